//! Rows compressed once, when an entry is filled, and served as stored.
//!
//! The rows' JSON is kept as raw deflate ending in a sync flush: byte-aligned and with no final block, so an
//! answer can place deflate blocks of its own before and after it. With the JSON's length and CRC-32 kept
//! beside it, a hit for a client that accepts gzip is one gzip member assembled from three parts: the gzip
//! header and the envelope (`{"source":"cache",…,"rows":`) as a stored block, the entry's deflate bytes as
//! they came from Redis, and `}` as the final stored block with the CRC-32 combined from the parts. Nothing
//! is recompressed or even inflated; clients that do not accept gzip get the JSON inflated once.
//!
//! Raw deflate rather than a stored gzip member: gzip's header and trailer belong around the whole answer, not
//! around the rows, so they are written per answer anyway. The envelope goes in stored (uncompressed) blocks:
//! it is a few dozen bytes, and compressing it would cost a compressor's setup per request to save about as
//! many bytes as the block header takes.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

use crate::error::{AppError, AppResult};
use crate::server::query::articles::RowsJson;

/// Rows as an entry holds them.
#[derive(Clone, Debug)]
pub struct StoredRows {
    pub count: usize,
    /// The JSON's length and CRC-32, for the gzip trailer and for checking an inflate.
    pub json_len: usize,
    pub json_crc: u32,
    /// Raw deflate of the JSON, sync-flushed: no final block.
    pub deflate: Bytes,
}

/// zlib's default: the seed's 101 KB answer becomes about 8 KB. Filling is once per TTL; the level costs there.
const LEVEL: u32 = 6;

impl StoredRows {
    pub fn compress(rows: &RowsJson) -> Self {
        let json = &rows.json[..];
        let mut deflate = Compress::new(Compression::new(LEVEL), false);
        let mut out = Vec::with_capacity(json.len() / 4 + 64);
        loop {
            let consumed = deflate.total_in() as usize;
            deflate.compress_vec(&json[consumed..], &mut out, FlushCompress::Sync).expect("deflate in memory does not fail");
            // Done when all input is in and the flush did not run out of room.
            if deflate.total_in() as usize == json.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
        Self { count: rows.count, json_len: json.len(), json_crc: crc32fast::hash(json), deflate: Bytes::from(out) }
    }

    /// The JSON back, checked against its stored length and CRC-32.
    pub fn inflate(&self) -> AppResult<RowsJson> {
        let mut inflate = Decompress::new(false);
        let mut json = Vec::with_capacity(self.json_len);
        inflate
            .decompress_vec(&self.deflate, &mut json, FlushDecompress::Sync)
            .map_err(|e| AppError::Internal(format!("the stored rows do not inflate: {e}")))?;
        if json.len() != self.json_len || inflate.total_in() as usize != self.deflate.len() || crc32fast::hash(&json) != self.json_crc {
            return Err(AppError::Internal("the stored rows inflate to something else than was stored".into()));
        }
        Ok(RowsJson { count: self.count, json: Bytes::from(json) })
    }

    /// A gzip member that decodes to `head`, the rows' JSON and `tail`, in three chunks; the middle one is the
    /// stored deflate itself.
    pub fn gzip_between(&self, head: &[u8], tail: &[u8]) -> [Bytes; 3] {
        // ID1 ID2, deflate, no flags, no mtime, no extra flags, OS unknown.
        let mut first = Vec::with_capacity(10 + head.len() + 5 * (head.len() / MAX_STORED + 1));
        first.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        stored_blocks(&mut first, head, false);
        let mut crc = crc32fast::Hasher::new();
        crc.update(head);
        crc.combine(&crc32fast::Hasher::new_with_initial_len(self.json_crc, self.json_len as u64));
        crc.update(tail);
        let mut last = Vec::with_capacity(tail.len() + 16);
        stored_blocks(&mut last, tail, true);
        last.extend_from_slice(&crc.finalize().to_le_bytes());
        last.extend_from_slice(&((head.len() + self.json_len + tail.len()) as u32).to_le_bytes());
        [Bytes::from(first), self.deflate.clone(), Bytes::from(last)]
    }
}

/// The most a stored block carries (its length field is 16 bits).
const MAX_STORED: usize = 65_535;

/// `data` as stored deflate blocks, the last one final when `last`. Each starts on a byte boundary, as the
/// stored deflate before or after it ends on one.
fn stored_blocks(out: &mut Vec<u8>, data: &[u8], last: bool) {
    let mut chunks = data.chunks(MAX_STORED).peekable();
    if chunks.peek().is_none() {
        // An empty block still says whether the stream ends here.
        out.extend_from_slice(&[last as u8, 0, 0, 0xff, 0xff]);
        return;
    }
    while let Some(chunk) = chunks.next() {
        let len = chunk.len() as u16;
        out.push((last && chunks.peek().is_none()) as u8);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn rows(json: &str, count: usize) -> RowsJson {
        RowsJson { count, json: Bytes::from(json.to_string()) }
    }

    fn gunzip(parts: &[Bytes]) -> Vec<u8> {
        let whole: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&whole[..]).read_to_end(&mut out).expect("a valid gzip member");
        out
    }

    #[test]
    fn the_assembled_member_decodes_to_head_rows_and_tail() {
        let long_head = "h".repeat(70_000);
        for (json, head) in [
            ("[]", "{\"rows\":"),
            ("[{\"a\":\"ünïcødé \\\"q\\\"\\n\"}]", "{\"x\":1,\"rows\":"),
            (&*format!("[{}]", vec!["{\"k\":\"vvvvvvvvvvvvvvvvvv\"}"; 5000].join(",")), &*long_head),
        ] {
            let stored = StoredRows::compress(&rows(json, 1));
            let decoded = gunzip(&stored.gzip_between(head.as_bytes(), b"}"));
            assert_eq!(decoded, [head.as_bytes(), json.as_bytes(), b"}"].concat());
            assert_eq!(&stored.inflate().unwrap().json[..], json.as_bytes());
        }
    }

    #[test]
    fn a_damaged_entry_does_not_inflate() {
        let json = format!("[{}]", vec!["{\"k\":1}"; 100].join(","));
        let mut stored = StoredRows::compress(&rows(&json, 100));
        assert!(stored.deflate.len() * 4 < json.len(), "compressed: {} of {}", stored.deflate.len(), json.len());
        let mut bytes = stored.deflate.to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        stored.deflate = Bytes::from(bytes);
        assert!(stored.inflate().is_err());
    }
}
