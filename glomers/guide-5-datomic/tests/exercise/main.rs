//! The exercise's tests, one binary for all of them: each module is a part, as the file names
//! say.

mod fixtures;
mod mistakes;
mod sim;
