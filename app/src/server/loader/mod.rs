//! `cachelens load-data`: the CSV loader, the generator of sample rows, the record of what was loaded, and the
//! progress bar they share.

pub mod csv_load;
pub mod dataset;
pub mod generate;
pub mod progress;
