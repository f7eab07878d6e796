//! Where a simulated client is, completed as Fastly's geolocation gives it: a country comes
//! with its continent (`--fact country=DE` is in Europe, `EU`), so a rule on either sees
//! what it would see at the edge; a country that is not an ISO 3166-1 alpha-2 code is
//! refused with the code to write (`Germany`: write DE). The country data is keshvar's.

use edge_rewriter::RequestContext;
use keshvar::{Alpha2, Continent, Country, CountryIterator};

/// Checks the simulated client's country and fills in its continent when no fact gave one.
pub fn complete(context: &mut RequestContext) -> Result<(), String> {
    let Some(code) = context.country.clone() else { return Ok(()) };
    let country = Alpha2::try_from(code.as_str()).map(|code| code.to_country()).map_err(|_| {
        let hint = match code_for_name(&code) {
            Some((code, name)) => format!("; {name}'s code is {code}"),
            None => String::new(),
        };
        format!("country {code:?} is not an ISO 3166-1 alpha-2 country code{hint}")
    })?;
    if context.geo.continent.is_none() {
        context.geo.continent = Some(continent_code(&country).to_owned());
    }
    Ok(())
}

/// The code of the country called `name` (`Germany`, `Deutschland`, `UK`), and its short
/// name, for a hint.
pub fn code_for_name(name: &str) -> Option<(String, &'static str)> {
    let name = name.trim();
    CountryIterator::new()
        .find(|country| {
            country.iso_short_name().eq_ignore_ascii_case(name)
                || country.iso_long_name().eq_ignore_ascii_case(name)
                || country.unofficial_name_list().iter().any(|known| known.eq_ignore_ascii_case(name))
        })
        .map(|country| {
            // The name people use (United Kingdom), where ISO's is long.
            let name = country.unofficial_name_list().first().copied().unwrap_or(country.iso_short_name());
            (country.alpha2().to_string(), name)
        })
}

/// The continent as geolocation codes it: `EU` for Europe, `OC` for Oceania.
fn continent_code(country: &Country) -> &'static str {
    match country.continent() {
        Continent::Africa => "AF",
        Continent::Antarctica => "AN",
        Continent::Asia => "AS",
        Continent::Australia => "OC",
        Continent::Europe => "EU",
        Continent::NorthAmerica => "NA",
        Continent::SouthAmerica => "SA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(country: &str, continent: Option<&str>) -> Result<RequestContext, String> {
        let mut context = RequestContext::default();
        context.set_fact("country", country).map_err(|err| err.to_string())?;
        if let Some(continent) = continent {
            context.set_fact("geo.continent", continent).map_err(|err| err.to_string())?;
        }
        complete(&mut context).map(|()| context)
    }

    #[test]
    fn a_country_brings_its_continent_unless_one_is_given() {
        for (country, continent) in [("DE", "EU"), ("ch", "EU"), ("JP", "AS"), ("AU", "OC"), ("BR", "SA"), ("US", "NA")]
        {
            assert_eq!(completed(country, None).unwrap().geo.continent.as_deref(), Some(continent), "{country}");
        }
        assert_eq!(completed("DE", Some("NA")).unwrap().geo.continent.as_deref(), Some("NA"), "a fact wins");
    }

    #[test]
    fn codes_that_are_no_country_are_refused_with_the_right_one() {
        assert_eq!(
            completed("UK", None).unwrap_err(),
            "country \"UK\" is not an ISO 3166-1 alpha-2 country code; United Kingdom's code is GB"
        );
        assert_eq!(code_for_name("germany"), Some(("DE".to_owned(), "Germany")));
        assert_eq!(code_for_name("Atlantis"), None);
    }
}
