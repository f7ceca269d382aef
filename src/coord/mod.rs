//! Coordination between jobctl processes: who may run what (leases on the tick and on
//! each job), who holds them, and how to ask a run's supervisor to stop.

pub mod flock;
