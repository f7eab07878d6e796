//! Groups of countries a rule names as a whole (`"geo": {"union": ["EU"]}`): the European
//! Union and the European Economic Area, by their members' ISO 3166-1 alpha-2 codes.
//!
//! Not the continent: geolocation's continent `EU` is Europe, Switzerland, the United
//! Kingdom, Norway, Serbia and Ukraine included, which is rarely what a consent banner for
//! the European Union means.
//!
//! A table rather than a crate: the one maintained crate that knows membership (keshvar)
//! carries every country's data (about 0.8 MB of wasm) for 37 codes. The native tests check
//! this table against it (`tests` below), so a change in membership that the crate learns
//! of fails the build here until the table is updated.

/// The member states of the European Union: 27 since the United Kingdom left on 2020-02-01
/// (Croatia, the last to join, in 2013). Source: european-union.europa.eu, "EU countries",
/// checked 2026-12-06.
///
/// And the parts of the Union that ISO 3166-1 gives codes of their own, which geolocation
/// reports under those codes: Åland (AX, part of Finland) and the French outermost regions
/// French Guiana (GF), Guadeloupe (GP), Martinique (MQ), Mayotte (YT), Réunion (RE) and
/// Saint-Martin (MF). (The Azores, Madeira and the Canary Islands are reported as PT and ES.)
const EU: [&str; 34] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", // the 27 member states
    "AX", "GF", "GP", "MF", "MQ", "RE", "YT", // parts of the Union with codes of their own
];

/// The European Economic Area beyond the Union: Iceland, Liechtenstein and Norway (the EEA
/// Agreement, in force since 1994; Liechtenstein since 1995). Source: efta.int, "EEA
/// Agreement", checked 2026-12-06. Switzerland is in EFTA but not in the EEA.
const EEA_BEYOND_EU: [&str; 3] = ["IS", "LI", "NO"];

/// A group of countries rules may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Union {
    /// The European Union.
    Eu,
    /// The European Economic Area: the Union, Iceland, Liechtenstein and Norway.
    Eea,
}

impl Union {
    /// Every union, in the order editors read them.
    pub const ALL: [Union; 2] = [Union::Eu, Union::Eea];

    /// How rules name it: `EU`, `EEA`.
    pub fn code(self) -> &'static str {
        match self {
            Union::Eu => "EU",
            Union::Eea => "EEA",
        }
    }

    /// The union a rule names (any case).
    pub fn from_code(code: &str) -> Option<Union> {
        Union::ALL.into_iter().find(|union| union.code().eq_ignore_ascii_case(code.trim()))
    }

    /// Whether the country `code` (ISO 3166-1 alpha-2, any case) is in the union.
    pub fn has(self, country: &str) -> bool {
        let listed = |codes: &[&str]| codes.iter().any(|code| code.eq_ignore_ascii_case(country.trim()));
        match self {
            Union::Eu => listed(&EU),
            Union::Eea => listed(&EU) || listed(&EEA_BEYOND_EU),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn known(code: &str) -> keshvar::Country {
        keshvar::Alpha2::try_from(code)
            .unwrap_or_else(|_| panic!("{code} is not an ISO 3166-1 alpha-2 code"))
            .to_country()
    }

    #[test]
    fn every_code_is_a_known_iso_3166_alpha_2_code() {
        for code in EU.iter().chain(&EEA_BEYOND_EU) {
            assert_eq!(known(code).alpha2().to_string(), *code);
        }
    }

    #[test]
    fn the_table_agrees_with_the_maintained_country_data() {
        let eu: BTreeSet<String> = keshvar::CountryIterator::new()
            .filter(|country| country.eu_member())
            .map(|country| country.alpha2().to_string())
            .collect();
        assert_eq!(eu, EU.iter().map(|code| code.to_string()).collect(), "EU members");
        // keshvar counts the Union's own territories in the EU but not in the EEA; the EEA
        // Agreement covers the Union's territory, so they are in it here.
        let eea: BTreeSet<String> = keshvar::CountryIterator::new()
            .filter(|country| country.eea_member() || country.eu_member())
            .map(|country| country.alpha2().to_string())
            .collect();
        let ours: BTreeSet<String> = EU.iter().chain(&EEA_BEYOND_EU).map(|code| code.to_string()).collect();
        assert_eq!(eea, ours, "EEA members");
    }

    #[test]
    fn the_union_is_not_the_continent() {
        for outside in ["CH", "GB", "NO", "RS", "UA"] {
            assert!(!Union::Eu.has(outside), "{outside}");
            assert_eq!(known(outside).continent(), keshvar::Continent::Europe, "{outside} is in Europe");
        }
        assert!(Union::Eea.has("no") && !Union::Eea.has("CH"));
        assert_eq!(Union::from_code(" eea"), Some(Union::Eea));
        assert_eq!(Union::from_code("EEC"), None);
    }
}
