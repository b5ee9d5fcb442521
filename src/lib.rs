//! ddc: privacy-preserving data linkage for a departmental data centre.
//!
//! Data holders upload records identified by BSN or onderwijsnummer; ddc
//! replaces the identifier by a keyed-hash pseudonym at the door, links the
//! holders' records on a dense person number, and releases only aggregated
//! tables that pass disclosure control.
//!
//! # Layout
//! - [`pseudonym`]: identifier validation (BSN, onderwijsnummer) and keyed hashing. Pure.
//! - [`keys`], [`keystore`], [`sealing`]: the hash and storage keys, their sealed store and custody, stored pseudonyms sealed with AES-256; secrets never printed.
//! - [`classification`]: versioned code lists, their hierarchies, dependent columns. Pure.
//! - [`names`]: the lower-case names ddc declares. Pure.
//! - [`schema`]: dataset definitions, validated.
//! - [`field_path`]: the path to the field at fault in a refusal (`filters[0].values[2]`).
//! - [`ingest`]: reading an uploaded CSV into validated, pseudonymised columns.
//! - [`link`]: the person index, pseudonym → person number. Pure.
//! - [`columns`]: a dataset's rows in memory, as columns.
//! - [`open_categories`]: which labels of an open column a table may show, pooling the
//!   rare ones; natural order. Pure.
//! - [`tabulate`]: counting persons over linked datasets, with margins. Pure.
//! - [`disclosure`]: policy, primary rules, LP-proven secondary suppression, cell-key perturbation. Pure.
//! - [`ledger`]: released populations, the defence against differencing. Pure.
//! - [`audit`]: the linkage log: typed entries, their canonical encoding, the RFC 6962
//!   Merkle tree, C2SP signed checkpoints, the auditor's verification. Pure.
//! - [`store`]: the SQLite database: schema, load, transactions with their log entry;
//!   the data directory's lock. [`private_fs`]: owner-only files and directories.
//! - [`engine`]: the service core that owns the store and the in-memory state.
//! - [`auth`]: the caller's identity, from its client certificate; roles; the deny list.
//!   [`access`]: the one authorisation decision of every call. Pure.
//!   [`project`]: projects, their members and their holder-approved datasets. Pure.
//! - [`tls`]: server and client TLS settings; plaintext only on loopback.
//!   [`pki`]: the development CA of `ddc pki dev`.
//! - [`service`]: thin tonic adapters, one per gRPC service; the upload stream with its
//!   limits; the one error mapping with stable reason codes.
//! - [`server`]: `run(listener, config, shutdown)`, used by `ddc serve`, the demo and tests.
//! - [`holder`]: the data holder's side of holder pseudonyms: the holders' key, and the
//!   rewrite of an upload file that replaces each identifier before it is sent.
//! - [`client`]: client helpers (connect, streamed upload with its closing digest, retry)
//!   for the CLI and tests.
//! - [`chart`]: SVG and PNG charts of released tables (plotters, an embedded font). Pure.
//! - [`cli`]: the `ddc` command line; [`demo`]: synthetic data and the demo.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod access;
mod admission;
pub mod audit;
pub mod auth;
pub mod chart;
pub mod classification;
pub mod cli;
pub mod client;
pub mod columns;
pub mod demo;
pub mod disclosure;
pub mod engine;
pub mod field_path;
pub mod holder;
pub mod ingest;
pub mod keys;
pub mod keystore;
pub mod ledger;
pub mod link;
pub mod names;
pub mod notify;
pub mod open_categories;
pub mod pki;
pub mod private_fs;
pub mod project;
pub mod proto;
pub mod pseudonym;
pub mod schema;
pub mod sealing;
pub mod server;
pub mod service;
pub mod store;
pub mod tabulate;
pub mod tls;
