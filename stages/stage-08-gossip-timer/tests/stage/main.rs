//! The stage's tests, one binary for all of them (one build and one link rather than one
//! per file): each module is a part, as the file names say.

mod fixtures;
mod sim;
