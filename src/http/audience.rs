//! Who is asking, as the platform tells it: where the client is (geolocation of its IP) and
//! what it browses with (device detection on its User-Agent). The adapter fills these from
//! Fastly's lookups, the CLI from `--fact geo.city=Berlin`; rules test them with `when.geo`
//! and `when.device` and print them with `{{geo.city}}` and `{{device.type}}`.

use schemars::JsonSchema;
use serde::Deserialize;

/// Where the client is, beyond its country (which is [`crate::RequestContext::country`]
/// (crate::RequestContext::country), for `{{country}}` and older rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    /// Continent code: `AF`, `AN`, `AS`, `EU`, `NA`, `OC` or `SA`.
    pub continent: Option<String>,
    /// The country's subdivision (ISO 3166-2 without the country), e.g. `CA` or `BE`.
    pub region: Option<String>,
    /// City name, as the geolocation data spells it.
    pub city: Option<String>,
    /// The client network's autonomous system number.
    pub asn: Option<u32>,
}

/// The continent codes geolocation gives.
pub const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// What kind of device the client is, from its User-Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
    /// A desktop or laptop computer.
    Desktop,
    /// A crawler or other automated client.
    Bot,
}

impl DeviceType {
    /// Every type, in the order editors read them.
    pub const ALL: [DeviceType; 4] = [DeviceType::Mobile, DeviceType::Tablet, DeviceType::Desktop, DeviceType::Bot];

    /// The name rules and templates use: `mobile`, `tablet`, `desktop`, `bot`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
            DeviceType::Desktop => "desktop",
            DeviceType::Bot => "bot",
        }
    }

    /// The type named `name` (any case).
    pub fn from_name(name: &str) -> Option<DeviceType> {
        DeviceType::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The type device detection's flags describe, or `None` for anything else (a TV, a
    /// console, an unknown User-Agent). A bot wins over the hardware it claims to be (crawlers
    /// pose as phones and desktops), and a tablet over "mobile", which detection also sets for
    /// many tablets.
    pub fn from_flags(
        bot: Option<bool>,
        tablet: Option<bool>,
        mobile: Option<bool>,
        desktop: Option<bool>,
    ) -> Option<Self> {
        [
            (bot, DeviceType::Bot),
            (tablet, DeviceType::Tablet),
            (mobile, DeviceType::Mobile),
            (desktop, DeviceType::Desktop),
        ]
        .into_iter()
        .find_map(|(flag, kind)| (flag == Some(true)).then_some(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_pick_one_type_bots_first() {
        assert_eq!(DeviceType::from_flags(Some(true), None, Some(true), None), Some(DeviceType::Bot));
        assert_eq!(DeviceType::from_flags(Some(false), Some(true), Some(true), None), Some(DeviceType::Tablet));
        assert_eq!(DeviceType::from_flags(None, Some(false), Some(true), Some(false)), Some(DeviceType::Mobile));
        assert_eq!(DeviceType::from_flags(None, None, None, Some(true)), Some(DeviceType::Desktop));
        assert_eq!(DeviceType::from_flags(Some(false), Some(false), Some(false), Some(false)), None);
    }

    #[test]
    fn names_round_trip() {
        for kind in DeviceType::ALL {
            assert_eq!(DeviceType::from_name(&kind.as_str().to_uppercase()), Some(kind));
        }
        assert_eq!(DeviceType::from_name("tv"), None);
    }
}
