//! Test support: an attacker audit independent of the engine.
#![allow(dead_code)]

pub mod independent;
