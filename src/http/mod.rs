//! Facts about requests and responses as browsers read them.

pub mod mime;
pub mod prescan;
