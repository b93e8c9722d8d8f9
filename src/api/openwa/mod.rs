//! The open-wa dialect: what backends written for open-wa (and wrappers
//! around it) send and receive.

pub mod webhook;
