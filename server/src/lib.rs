//! A local, self-hostable Porter Sandbox API server: the same endpoints, JSON and status codes as
//! the cluster API, running every sandbox as a real, isolated Linux container.

pub mod http;
pub mod images;
pub mod openapi;
pub mod process;
pub mod runtime;
pub mod serve;
pub mod service;
pub mod store;
pub mod time;
pub mod volumes;
