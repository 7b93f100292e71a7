//! krsi policy language.
