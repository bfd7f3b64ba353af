//! Operations on datasets: choosing fields ([`select`]: `-f` patterns into a
//! [`Projection`](crate::Projection)), joining on uid ([`join`]), and sets of 64-bit uids
//! ([`uids`]).

pub mod join;
pub mod select;
pub mod uids;
