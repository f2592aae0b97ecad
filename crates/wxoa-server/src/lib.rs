//! The wxoa callback service.
