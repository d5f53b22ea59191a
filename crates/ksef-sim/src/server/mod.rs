//! The simulator's public handle, its builder, and the HTTP plumbing: routing, access checks,
//! body and error responses, presigned storage, the Lighthouse routes and fault injection.

mod access;
mod builder;
mod fault_injection;
mod lighthouse;
mod response;
mod routing;
mod simulator;
mod storage;

pub use builder::SimulatorBuilder;
pub use simulator::Simulator;
