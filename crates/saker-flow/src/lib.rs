//! Kestra flow documents: parsing with positions, the typed model, validation, diagnostics.

pub mod catalog;
