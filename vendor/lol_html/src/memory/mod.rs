mod arena;
mod limited_vec;
mod limiter;

pub(crate) use arena::Arena;
pub(crate) use limited_vec::LimitedVec;
pub use limiter::{MemoryLimitExceededError, SharedMemoryLimiter};
