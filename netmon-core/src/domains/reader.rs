//! A bounds-checked cursor over wire bytes: every read returns `None` instead of panicking when
//! the input is too short, so the parsers above it can turn truncation into an error.

/// Reads big-endian integers and length-prefixed fields from the front of a byte slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// How many bytes were read since the cursor stood at `start` (a slice this one came from).
    pub(crate) fn position_in(&self, start: &[u8]) -> usize {
        start.len().saturating_sub(self.rest.len())
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(len)?;
        self.rest = tail;
        Some(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[byte]| byte)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u24(&mut self) -> Option<u32> {
        self.array::<3>()
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// A field preceded by a one-byte length.
    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let len = self.u8()?;
        self.take(usize::from(len))
    }

    /// A field preceded by a two-byte length.
    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A QUIC variable-length integer (RFC 9000 §16): the two high bits of the first byte give
    /// its length (1, 2, 4 or 8 bytes).
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let first = *self.rest.first()?;
        let len = 1usize << (first >> 6);
        let bytes = self.take(len)?;
        let value = bytes
            .iter()
            .fold(0u64, |value, &byte| (value << 8) | u64::from(byte));
        let value_bits = 8 * len - 2;
        Some(value & ((1u64 << value_bits) - 1))
    }

    /// A QUIC varint that must fit in `usize` (a length or an offset).
    pub(crate) fn varint_usize(&mut self) -> Option<usize> {
        self.varint().and_then(|value| usize::try_from(value).ok())
    }

    /// A field preceded by a QUIC varint length.
    pub(crate) fn vec_varint(&mut self) -> Option<&'a [u8]> {
        let len = self.varint_usize()?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut reader = Reader::new(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(reader.u8(), Some(1));
        assert_eq!(reader.u16(), Some(0x0203));
        assert_eq!(reader.u24(), Some(0x04_0506));
        assert_eq!(reader.u32(), Some(0x0708_090a));
        assert_eq!(reader.u8(), None);
    }

    #[test]
    fn short_input_reads_nothing() {
        let mut reader = Reader::new(&[0, 5, 1, 2]);
        assert_eq!(reader.take(5), None);
        assert_eq!(reader.rest(), &[0, 5, 1, 2]);
        assert_eq!(reader.vec16(), None);
    }

    #[test]
    fn varints_of_every_length() {
        // RFC 9000 §A.1 examples.
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(Reader::new(bytes).varint(), Some(value));
        }
        assert_eq!(Reader::new(&[0x9d, 0x7f]).varint(), None);
    }
}
