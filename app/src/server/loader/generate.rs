//! Deterministic synthetic articles in the seed's CSV format, so users can scale the table to millions.
//!
//! The same seed and row count always give the same bytes: a tiny SplitMix64 generator keeps that promise
//! independent of any RNG crate's version.

use std::io::Write;

use crate::server::loader::dataset::COLUMNS;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const PLACES: &[&str] = &[
    "Wuhan",
    "Lombardy",
    "New York",
    "São Paulo",
    "Zürich",
    "Delhi",
    "Lagos",
    "Seoul",
    "Madrid",
    "Toronto",
    "Cape Town",
    "Kraków",
    "Reykjavík",
    "Tōkyō",
    "Melbourne",
    "Québec",
    "Nairobi",
    "Lima",
    "Oslo",
    "Chennai",
];
const VARIANTS: &[&str] = &["delta", "alpha", "beta", "gamma", "omicron", "delta", "B.1.617.2", "wild-type"];
const TOPICS: &[&str] = &[
    "hospital admissions",
    "viral load",
    "transmission",
    "vaccine effectiveness",
    "ICU occupancy",
    "household spread",
    "mortality",
    "seroprevalence",
    "testing capacity",
    "reinfection",
];
const VERBS: &[&str] = &["reported", "observed", "estimated", "modelled", "confirmed", "questioned"];
const TRENDS: &[&str] = &["a sharp rise in", "a decline in", "no change in", "a 2-fold increase in", "seasonal swings in"];
const JOURNALS: &[&str] = &["The Lancet", "BMJ", "Nature Medicine", "PLoS ONE", "Eurosurveillance", "medRxiv", "JAMA"];
const SOURCES: &[&str] = &["PMC", "medRxiv", "bioRxiv", "Elsevier", "WHO", "arXiv"];
const LICENSES: &[&str] = &["cc-by", "cc-by-nc", "cc-by-nc-nd", "els-covid", "no-cc", "biorxiv"];
const SURNAMES: &[&str] = &["Smith", "Zhang", "García", "Okafor", "Müller", "Kowalski", "O'Brien", "Nguyen", "Silva", "Kim"];

/// Writes the header and `rows` articles. `seed` picks which ones.
pub fn write_articles(out: &mut impl Write, rows: u64, seed: u64) -> std::io::Result<()> {
    let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    csv.write_record(COLUMNS)?;
    let mut rng = SplitMix64(seed);
    for id in 1..=rows {
        csv.write_record(article(&mut rng, id))?;
    }
    csv.flush()
}

fn article(rng: &mut SplitMix64, id: u64) -> [String; 13] {
    let place = rng.pick(PLACES);
    let variant = rng.pick(VARIANTS);
    let topic = rng.pick(TOPICS);
    let sentence = format!(
        "{} {} {} {} during the {} wave, {} weeks after the first {} case.",
        place,
        rng.pick(VERBS),
        rng.pick(TRENDS),
        topic,
        variant,
        2 + rng.below(20),
        variant
    );
    // Some titles carry commas and quotes, some abstracts line breaks: the CSV must quote them all correctly.
    let title = if rng.chance(15) {
        format!("\"{}\" and {}, revisited", capitalise(topic), variant)
    } else {
        format!("{} of {} in {}", capitalise(topic), variant, place)
    };
    let mut abstract_ = format!(
        "Background: {} in {} changed with the {} variant. Methods: we followed {} cases.",
        capitalise(topic),
        place,
        variant,
        100 + rng.below(100_000)
    );
    if rng.chance(10) {
        abstract_.push_str("\r\nResults: see the supplement, tables 1–3.");
    }
    let authors = (0..1 + rng.below(4))
        .map(|_| format!("{}, {}.", rng.pick(SURNAMES), (b'A' + rng.below(26) as u8) as char))
        .collect::<Vec<_>>()
        .join("; ");
    [
        id.to_string(),
        format!("{:016x}{:016x}{:08x}", rng.next(), rng.next(), rng.next() as u32),
        place.to_string(),
        sentence,
        place.to_string(),
        format!("10.1101/2020.{:02}.{:02}.{}", 1 + rng.below(12), 1 + rng.below(28), 20_000_000 + rng.below(999_999)),
        title,
        abstract_,
        format!("2020-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
        authors,
        rng.pick(JOURNALS).to_string(),
        rng.pick(SOURCES).to_string(),
        rng.pick(LICENSES).to_string(),
    ]
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::write_articles;

    fn bytes(rows: u64, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_articles(&mut out, rows, seed).unwrap();
        out
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(bytes(500, 7), bytes(500, 7));
        assert_ne!(bytes(500, 7), bytes(500, 8));
    }

    #[test]
    fn rows_parse_back_and_some_match_the_default_term() {
        let data = bytes(1000, 1);
        let mut reader = csv::Reader::from_reader(&data[..]);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1000);
        assert!(rows.iter().all(|r| r.len() == 13));
        let delta = rows.iter().filter(|r| r[3].contains("delta")).count();
        assert!((150..600).contains(&delta), "{delta} rows mention delta");
        assert!(rows.iter().any(|r| r[6].contains('"') && r[6].contains(',')));
        assert!(rows.iter().any(|r| r[7].contains("\r\n")));
    }
}
