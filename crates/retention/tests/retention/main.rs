//! The retention planner's tests: policies, table tests of plans, and properties on random
//! inventories. One test binary, so one link.

mod builder;
mod plans;
mod policies;
mod properties;
mod selection;
