//! Where rule text comes from: how rules are laid out in a Fastly Config Store and read back
//! within the lookup budget ([`layout`], with the [`index`] naming entries and version), the compiled rules kept between requests
//! ([`cache`]), and the sites map a store may hold ([`sites`]).

pub(crate) mod cache;
mod index;
pub(crate) mod layout;
pub(crate) mod limits;
pub(crate) mod pack;
pub(crate) mod sites;
