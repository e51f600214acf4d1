//! The little of the DNS wire format (RFC 1035) the filter needs: read the one question of a
//! query, write a reply with A / AAAA answers.

use std::net::IpAddr;

/// Response codes.
pub(super) const NOERROR: u8 = 0;
pub(super) const FORMERR: u8 = 1;
pub(super) const SERVFAIL: u8 = 2;
pub(super) const NXDOMAIN: u8 = 3;
pub(super) const NOTIMP: u8 = 4;
pub(super) const REFUSED: u8 = 5;

/// Record types.
pub(super) const TYPE_A: u16 = 1;
pub(super) const TYPE_AAAA: u16 = 28;

/// The largest reply over UDP without EDNS.
pub(super) const UDP_LIMIT: usize = 512;

const HEADER_LEN: usize = 12;
/// Bits of the header's flags word.
const FLAG_RESPONSE: u16 = 0x8000;
const FLAG_RECURSION_DESIRED: u16 = 0x0100;
const FLAG_RECURSION_AVAILABLE: u16 = 0x0080;

/// What a reply copies from the query's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    pub id: u16,
    pub opcode: u8,
    pub recursion_desired: bool,
}

/// A query's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Question {
    pub header: Header,
    /// The name, labels joined with `.` (not validated: the allow-list check is).
    pub name: String,
    pub qtype: u16,
    /// Where the question section ends (the reply repeats it verbatim).
    pub end: usize,
}

/// Reads the question. `Err(Some(header))`: malformed, answer FORMERR; `Err(None)`: not even
/// a header (or not a query), ignore it.
pub(super) fn parse(msg: &[u8]) -> Result<Question, Option<Header>> {
    let word = |at: usize| msg.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let (Some(id), Some(flags)) = (word(0), word(2)) else { return Err(None) };
    if flags & FLAG_RESPONSE != 0 {
        return Err(None);
    }
    // The opcode is four bits: the cast cannot truncate.
    let header = Header {
        id,
        opcode: ((flags >> 11) & 0xf) as u8,
        recursion_desired: flags & FLAG_RECURSION_DESIRED != 0,
    };
    if word(4) != Some(1) {
        return Err(Some(header));
    }
    let mut labels = Vec::new();
    let mut at = HEADER_LEN;
    loop {
        let Some(&len) = msg.get(at) else { return Err(Some(header)) };
        at += 1;
        if len == 0 {
            break;
        }
        // Compression pointers (and the reserved label types) have no place in a question.
        let label = msg.get(at..at + usize::from(len)).filter(|_| len < 64);
        let Some(label) = label.filter(|l| !l.contains(&b'.')) else { return Err(Some(header)) };
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += usize::from(len);
        if at > HEADER_LEN + 255 {
            return Err(Some(header));
        }
    }
    let (Some(qtype), Some(_class)) = (word(at), word(at + 2)) else { return Err(Some(header)) };
    Ok(Question { header, name: labels.join("."), qtype, end: at + 4 })
}

/// How many answers of `qtype` fit in `limit` bytes next to a question of at most 255 bytes.
pub(super) fn max_answers(limit: usize, qtype: u16) -> usize {
    let each = 12 + if qtype == TYPE_AAAA { 16 } else { 4 };
    limit.saturating_sub(HEADER_LEN + 255 + 4) / each
}

/// A reply to `query` (whose question, when it parsed, is repeated) with `rcode` and one
/// answer per address, each pointing at the question's name.
pub(super) fn reply(
    query: &[u8],
    header: &Header,
    rcode: u8,
    addrs: &[IpAddr],
    ttl: u32,
) -> Vec<u8> {
    let question = parse(query).ok().map(|q| &query[HEADER_LEN..q.end]);
    let mut flags = FLAG_RESPONSE | FLAG_RECURSION_AVAILABLE | (u16::from(header.opcode) << 11);
    if header.recursion_desired {
        flags |= FLAG_RECURSION_DESIRED;
    }
    flags |= u16::from(rcode & 0xf);
    let answers = u16::try_from(addrs.len()).unwrap_or(0);
    let mut out = Vec::with_capacity(UDP_LIMIT);
    for word in [header.id, flags, u16::from(question.is_some()), answers, 0, 0] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    let Some(question) = question else { return out };
    out.extend_from_slice(question);
    for addr in addrs.iter().take(usize::from(answers)) {
        // 0xc00c: a pointer to the name at offset 12, the question's.
        out.extend_from_slice(&0xc00c_u16.to_be_bytes());
        let (rtype, data) = match addr {
            IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
            IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
        };
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // class IN
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A query as `dig` sends it: id 0xbeef, RD, one question, plus an EDNS OPT record.
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0xbe, 0xef, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
        for label in name.split('.') {
            q.push(u8::try_from(label.len()).unwrap());
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        q
    }

    #[test]
    fn reads_the_question() {
        let q = query("Api.Example.com", TYPE_AAAA);
        let question = parse(&q).unwrap();
        assert_eq!(question.name, "Api.Example.com");
        assert_eq!(question.qtype, TYPE_AAAA);
        assert_eq!(question.header, Header { id: 0xbeef, opcode: 0, recursion_desired: true });
        assert_eq!(question.end, q.len() - 11);
    }

    #[test]
    fn malformed_queries_are_told_apart() {
        assert_eq!(parse(&[1, 2, 3]), Err(None));
        let mut response = query("a.b", TYPE_A);
        response[2] |= 0x80;
        assert_eq!(parse(&response), Err(None));
        let q = query("a.b", TYPE_A);
        assert!(matches!(parse(&q[..q.len() - 14]), Err(Some(_))), "cut in the question");
        let mut pointer = query("a.b", TYPE_A);
        pointer[12] = 0xc0;
        assert!(matches!(parse(&pointer), Err(Some(_))));
        let mut two = query("a.b", TYPE_A);
        two[5] = 2;
        assert!(matches!(parse(&two), Err(Some(_))));
    }

    #[test]
    fn replies_carry_the_question_and_the_answers() {
        let q = query("x.test", TYPE_A);
        let header = parse(&q).unwrap().header;
        let ips: Vec<IpAddr> = vec!["198.18.1.2".parse().unwrap(), "198.18.1.3".parse().unwrap()];
        let r = reply(&q, &header, NOERROR, &ips, 300);
        assert_eq!(&r[..4], &[0xbe, 0xef, 0x81, 0x80]);
        assert_eq!(&r[4..12], &[0, 1, 0, 2, 0, 0, 0, 0]);
        let question_end = 12 + 8 + 4;
        assert_eq!(&r[12..question_end], &q[12..question_end]);
        let first = &r[question_end..question_end + 16];
        assert_eq!(first, &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 198, 18, 1, 2]);
        assert_eq!(r.len(), question_end + 32);

        let denied = reply(&q, &header, NXDOMAIN, &[], 0);
        assert_eq!(&denied[2..8], &[0x81, 0x83, 0, 1, 0, 0]);
        let garbage = [0x12, 0x34, 0x01, 0x00, 0, 1];
        let header = parse(&garbage).unwrap_err().unwrap();
        assert_eq!(reply(&garbage, &header, FORMERR, &[], 0).len(), 12);
        assert!(max_answers(UDP_LIMIT, TYPE_A) >= 10);
    }
}
