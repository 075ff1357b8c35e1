//! Bounded reassembly of the first bytes of a stream from pieces at known offsets (TCP payload
//! after the handshake, QUIC CRYPTO frames), and the per-flow ClientHello state built on it.

use std::ops::Range;

use super::handshake::{ServerName, SniError};

/// Most separate byte ranges kept while pieces arrive out of order.
const MAX_RANGES: usize = 32;

/// The bytes of a stream from offset 0 up to a fixed limit, filled in by pieces in any order.
#[derive(Debug, Clone)]
pub(crate) struct StreamAssembler {
    data: Vec<u8>,
    /// Received ranges, sorted, neither overlapping nor touching.
    ranges: Vec<Range<usize>>,
    limit: usize,
}

impl StreamAssembler {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            data: Vec::new(),
            ranges: Vec::new(),
            limit,
        }
    }

    /// Stores `bytes` at `offset`. Later copies of the same bytes overwrite earlier ones.
    pub(crate) fn insert(&mut self, offset: u64, bytes: &[u8]) -> Result<(), SniError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let start = usize::try_from(offset).map_err(|_| SniError::TooLarge)?;
        let end = start
            .checked_add(bytes.len())
            .filter(|&end| end <= self.limit)
            .ok_or(SniError::TooLarge)?;
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data
            .get_mut(start..end)
            .ok_or(SniError::TooLarge)?
            .copy_from_slice(bytes);
        self.add_range(start..end)
    }

    fn add_range(&mut self, new: Range<usize>) -> Result<(), SniError> {
        self.ranges.push(new);
        self.ranges.sort_unstable_by_key(|range| range.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(self.ranges.len());
        for range in self.ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        self.ranges = merged;
        if self.ranges.len() > MAX_RANGES {
            return Err(SniError::TooFragmented);
        }
        Ok(())
    }

    /// The bytes received without a gap from offset 0.
    pub(crate) fn contiguous(&self) -> &[u8] {
        let end = self
            .ranges
            .first()
            .filter(|range| range.start == 0)
            .map_or(0, |range| range.end);
        self.data.get(..end).unwrap_or_default()
    }

    /// True until some byte has been stored.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// Where a flow's search for its ClientHello's server name stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SniProgress {
    /// The bytes so far are the beginning of a ClientHello: feed more.
    NeedMore,
    /// The ClientHello names this server (normalised hostname).
    Found(ServerName),
    /// A complete ClientHello without a server name.
    Absent,
    /// Given up: not a ClientHello, malformed, or over the limits.
    Failed(SniError),
}

impl SniProgress {
    /// True once feeding more bytes cannot change the outcome.
    pub fn is_finished(&self) -> bool {
        !matches!(self, SniProgress::NeedMore)
    }

    /// The server name, when found.
    pub fn server_name(&self) -> Option<&str> {
        match self {
            SniProgress::Found(name) => Some(&name.host),
            _ => None,
        }
    }

    /// The outcome as a result: `Err(SniError::Incomplete)` while more bytes are needed.
    pub fn into_result(self) -> Result<Option<ServerName>, SniError> {
        match self {
            SniProgress::NeedMore => Err(SniError::Incomplete),
            SniProgress::Found(name) => Ok(Some(name)),
            SniProgress::Absent => Ok(None),
            SniProgress::Failed(error) => Err(error),
        }
    }

    fn from_result(result: Result<Option<ServerName>, SniError>) -> Self {
        match result {
            Ok(Some(name)) => SniProgress::Found(name),
            Ok(None) => SniProgress::Absent,
            Err(SniError::Incomplete) => SniProgress::NeedMore,
            Err(error) => SniProgress::Failed(error),
        }
    }
}

/// A stream of pieces evaluated after each insert by `parse`, until it gives an outcome.
#[derive(Debug, Clone)]
pub(crate) struct HelloStream {
    stream: StreamAssembler,
    outcome: SniProgress,
}

impl HelloStream {
    /// A stream keeping at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            stream: StreamAssembler::new(limit),
            outcome: SniProgress::NeedMore,
        }
    }

    pub(crate) fn outcome(&self) -> &SniProgress {
        &self.outcome
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.stream.is_empty()
    }

    /// Stores a piece; the outcome stays put once finished.
    pub(crate) fn insert(&mut self, offset: u64, bytes: &[u8]) {
        if self.outcome.is_finished() {
            return;
        }
        if let Err(error) = self.stream.insert(offset, bytes) {
            self.outcome = SniProgress::Failed(error);
        }
    }

    /// Runs `parse` over the contiguous bytes and records its outcome.
    pub(crate) fn evaluate(
        &mut self,
        parse: impl FnOnce(&[u8]) -> Result<Option<ServerName>, SniError>,
    ) -> &SniProgress {
        if !self.outcome.is_finished() && !self.stream.contiguous().is_empty() {
            self.outcome = SniProgress::from_result(parse(self.stream.contiguous()));
        }
        &self.outcome
    }

    /// Gives up with `error`, unless already finished.
    pub(crate) fn fail(&mut self, error: SniError) -> &SniProgress {
        if !self.outcome.is_finished() {
            self.outcome = SniProgress::Failed(error);
        }
        &self.outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_in_any_order_join_up() {
        let mut stream = StreamAssembler::new(64);
        stream.insert(6, b"world").unwrap();
        assert_eq!(stream.contiguous(), b"");
        stream.insert(0, b"hello").unwrap();
        assert_eq!(stream.contiguous(), b"hello");
        stream.insert(5, b" ").unwrap();
        assert_eq!(stream.contiguous(), b"hello world");
    }

    #[test]
    fn overlaps_and_duplicates_are_harmless() {
        let mut stream = StreamAssembler::new(64);
        stream.insert(0, b"abcd").unwrap();
        stream.insert(2, b"cdef").unwrap();
        stream.insert(0, b"abcd").unwrap();
        assert_eq!(stream.contiguous(), b"abcdef");
    }

    #[test]
    fn the_limit_holds() {
        let mut stream = StreamAssembler::new(8);
        assert_eq!(stream.insert(4, b"12345"), Err(SniError::TooLarge));
        assert_eq!(stream.insert(u64::MAX, b"1"), Err(SniError::TooLarge));
        assert!(stream.is_empty());
    }

    #[test]
    fn too_many_gaps_give_up() {
        let mut stream = StreamAssembler::new(1024);
        let results: Vec<_> = (1..=40u64).map(|i| stream.insert(i * 2, b"x")).collect();
        assert_eq!(results.last(), Some(&Err(SniError::TooFragmented)));
    }
}
