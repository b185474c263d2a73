//! Filters, grouped by the kind of input they work on.

pub(crate) mod collections;
pub(crate) mod dates;
pub(crate) mod json;
pub(crate) mod numbers;
pub(crate) mod strings;
