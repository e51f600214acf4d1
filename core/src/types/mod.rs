//! Every wire schema and enum of the Porter Sandbox API, as serde types.
//!
//! This module builds without the HTTP client (feature `client` off), so a server can share the
//! very same definitions.
//!
//! Optional fields are `Option`s that are omitted from the JSON when `None` (never sent as
//! `null`); `null` on input reads as `None`. Unknown fields are ignored on parse, and unknown
//! enum values are kept in the enums' `Unknown` variant.

mod enums;
mod exec;
mod health;
mod metrics;
mod process;
mod sandbox;
mod snapshot;
mod volume;

pub use enums::*;
pub use exec::*;
pub use health::*;
pub use metrics::*;
pub use process::*;
pub use sandbox::*;
pub use snapshot::*;
pub use volume::*;
