//! The static table (RFC 7541 Appendix A) and the dynamic table (§2.3.2,
//! §4), with the index space that joins them (§2.3.3).

use std::collections::VecDeque;

/// The static table: index 1 is `STATIC[0]`.
pub(super) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The per-entry overhead of §4.1.
pub(super) const ENTRY_OVERHEAD: usize = 32;

/// The size of an entry, as §4.1 counts it (saturating, so a huge length
/// from a peer cannot overflow).
pub(super) fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len()
        .saturating_add(value.len())
        .saturating_add(ENTRY_OVERHEAD)
}

/// One dynamic table entry.
#[derive(Debug, Clone)]
struct Entry {
    name: Box<[u8]>,
    value: Box<[u8]>,
}

/// A dynamic table, newest entry first, with its size and its maximum.
#[derive(Debug, Clone)]
pub(super) struct Table {
    entries: VecDeque<Entry>,
    /// The sum of [`entry_size`] over `entries`; never above `max_size`.
    size: usize,
    /// The current maximum (the last dynamic table size update).
    max_size: usize,
}

/// What the encoder found for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Match {
    /// Name and value are at this index.
    Full(usize),
    /// The name (with another value) is at this index.
    Name(usize),
    /// Neither.
    None,
}

impl Table {
    pub(super) fn new(max_size: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    pub(super) fn max_size(&self) -> usize {
        self.max_size
    }

    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The field at `index` in the joint index space (1-based; static first).
    pub(super) fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        if index == 0 {
            return None;
        }
        if let Some(&(name, value)) = STATIC.get(index - 1) {
            return Some((name, value));
        }
        self.entries
            .get(index - 1 - STATIC.len())
            .map(|e| (&*e.name, &*e.value))
    }

    /// Sets a new maximum, evicting the oldest entries until they fit.
    pub(super) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    /// Whether an entry of this size would be kept at all (§4.4: a larger
    /// one empties the table and is not added).
    pub(super) fn fits(&self, size: usize) -> bool {
        size <= self.max_size
    }

    /// Adds an entry, evicting first; one larger than the table empties it
    /// and is not added (§4.4).
    pub(super) fn insert(&mut self, name: Box<[u8]>, value: Box<[u8]>) {
        let size = entry_size(&name, &value);
        if size > self.max_size {
            self.clear();
            return;
        }
        self.evict_to(self.max_size - size);
        self.entries.push_front(Entry { name, value });
        self.size += size;
    }

    /// Empties the table, keeping its maximum.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some(e) => self.size -= entry_size(&e.name, &e.value),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }

    /// The best index for a field: a full match in the static table, then in
    /// the dynamic table, then a name match (static first: smaller indices).
    pub(super) fn find(&self, name: &[u8], value: &[u8]) -> Match {
        let mut name_match = None;
        for (i, &(n, v)) in STATIC.iter().enumerate() {
            if n == name {
                if v == value {
                    return Match::Full(i + 1);
                }
                name_match.get_or_insert(i + 1);
            }
        }
        for (i, e) in self.entries.iter().enumerate() {
            if &*e.name == name {
                let index = i + 1 + STATIC.len();
                if &*e.value == value {
                    return Match::Full(index);
                }
                name_match.get_or_insert(index);
            }
        }
        name_match.map_or(Match::None, Match::Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_space_and_eviction() {
        let mut t = Table::new(100);
        assert_eq!(t.get(0), None);
        assert_eq!(t.get(2), Some((&b":method"[..], &b"GET"[..])));
        assert_eq!(t.get(61), Some((&b"www-authenticate"[..], &b""[..])));
        assert_eq!(t.get(62), None);
        t.insert(b"aaaa"[..].into(), b"bbbb"[..].into()); // 40
        t.insert(b"cccc"[..].into(), b"dddd"[..].into()); // 40
        assert_eq!(t.get(62), Some((&b"cccc"[..], &b"dddd"[..])));
        assert_eq!(t.get(63), Some((&b"aaaa"[..], &b"bbbb"[..])));
        t.insert(b"eeee"[..].into(), b"ffff"[..].into()); // evicts aaaa
        assert_eq!((t.len(), t.size()), (2, 80));
        assert_eq!(t.get(64), None);
        assert_eq!(t.find(b"cccc", b"dddd"), Match::Full(63));
        assert_eq!(t.find(b"cccc", b"x"), Match::Name(63));
        assert_eq!(t.find(b":method", b"PUT"), Match::Name(2));
        t.insert(vec![b'x'; 100].into(), Box::default()); // too big: empties the table
        assert_eq!((t.len(), t.size()), (0, 0));
        t.insert(b"eeee"[..].into(), b"ffff"[..].into());
        t.set_max_size(0);
        assert_eq!((t.len(), t.size()), (0, 0));
    }
}
