//! Test support: an attacker check independent of the engine, and table builders.
#![allow(dead_code)]

pub mod independent;
pub mod stats;
pub mod tables;
