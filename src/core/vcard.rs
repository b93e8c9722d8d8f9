//! vCard text as the contact cards WhatsApp Web sends: a name and a
//! number each, whatever else the card holds (old phones' vCard 2.1
//! exports, quoted-printable names in their charset, folded lines).

use super::MAX_CARDS;
use crate::domain::Wid;
use crate::session::CardOf;

/// vCard text as the contact cards WhatsApp Web sends, one per
/// `BEGIN:VCARD` … `END:VCARD`: the name (`FN`, else `N`'s given and family
/// names) and the number (a `TEL`'s `waid=`, else the first `TEL`'s
/// digits). `name` and `number` stand in for a lone card's, as open-wa's
/// `contactName` and `contactNumber` do; with several cards they are
/// ignored, as in open-wa; blank ones are not given. At most
/// [`MAX_CARDS`] cards. (Open-wa's sendVCard, whatsapp-web.js's
/// `parseVCards` and the native `vcard` send them.)
pub fn vcard_cards(
    vcard: &str,
    name: Option<&str>,
    number: Option<&str>,
) -> Result<Vec<CardOf>, String> {
    /// vCard 3/4 escapes in a text value.
    fn unescape(v: &str) -> String {
        let mut out = String::with_capacity(v.len());
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n' | 'N') => out.push(' '),
                    Some(o) => out.push(o),
                    None => {}
                },
                c => out.push(c),
            }
        }
        out.trim().to_string()
    }
    /// vCard 2.1's `ENCODING=QUOTED-PRINTABLE` (old phones' exports): a
    /// line ending in `=` goes on in the next.
    fn is_qp(head: &str) -> bool {
        head.split(';').skip(1).any(|p| {
            let v = p.rsplit('=').next().unwrap_or(p);
            v.trim().eq_ignore_ascii_case("quoted-printable")
        })
    }
    /// Its `=XX` bytes, read in the card's CHARSET (UTF-8 when it names
    /// none, Windows-1252 when they are no UTF-8); the rest is text already.
    fn unquote(head: &str, v: &str) -> String {
        let named = head.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"'))
        });
        let charset = named.and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()));
        let decode = |bytes: &[u8], out: &mut String| match charset {
            Some(enc) => out.push_str(&enc.decode_without_bom_handling(bytes).0),
            None => match std::str::from_utf8(bytes) {
                Ok(s) => out.push_str(s),
                Err(_) => out.push_str(
                    &encoding_rs::WINDOWS_1252
                        .decode_without_bom_handling(bytes)
                        .0,
                ),
            },
        };
        let mut out = String::with_capacity(v.len());
        let mut run: Vec<u8> = vec![];
        let mut rest = v;
        while let Some(c) = rest.chars().next() {
            let hex = rest
                .get(1..3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
            match (c, hex) {
                ('=', Some(h)) => {
                    run.push(u8::from_str_radix(h, 16).expect("two hex digits"));
                    rest = &rest[3..];
                }
                _ => {
                    decode(&run, &mut out);
                    run.clear();
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        decode(&run, &mut out);
        out
    }
    let mut cards: Vec<(Option<String>, Option<String>, Option<String>)> = vec![];
    let mut open = false;
    // Lines folded by a leading space or tab continue the line before.
    let mut lines: Vec<String> = vec![];
    let vcard = vcard.trim_start_matches('\u{feff}');
    let mut soft = false;
    for l in vcard.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        // (A card's bounds are never a value's continuation.)
        let bound = ["BEGIN:VCARD", "END:VCARD"]
            .iter()
            .any(|b| l.trim().eq_ignore_ascii_case(b));
        match (
            soft && !bound,
            l.strip_prefix([' ', '\t']),
            lines.last_mut(),
        ) {
            (true, _, Some(last)) => last.push_str(l),
            (false, Some(rest), Some(last)) => last.push_str(rest),
            _ => lines.push(l.to_string()),
        }
        let last = lines.last_mut().expect("a line");
        let kept = last.trim_end_matches([' ', '\t']).len();
        soft = last.split_once(':').is_some_and(|(h, _)| is_qp(h)) && last[..kept].ends_with('=');
        if soft {
            last.truncate(kept - 1);
        }
    }
    for line in &lines {
        let Some((head, value)) = line.split_once(':') else {
            continue;
        };
        let decoded;
        let value = match is_qp(head) {
            true => {
                decoded = unquote(head, value);
                decoded.as_str()
            }
            false => value,
        };
        let mut params = head.split(';');
        // A group prefix (`item1.TEL`) names the same property.
        let prop = params.next().unwrap_or("");
        let prop = prop.rsplit('.').next().unwrap_or(prop).to_ascii_uppercase();
        match (prop.as_str(), value.trim().to_ascii_uppercase().as_str()) {
            ("BEGIN", "VCARD") => {
                open = true;
                cards.push((None, None, None));
                // Read no further than an answer needs.
                if cards.len() > MAX_CARDS {
                    break;
                }
                continue;
            }
            ("END", "VCARD") => {
                open = false;
                continue;
            }
            _ => {}
        }
        let Some((full, given, tel)) = cards.last_mut().filter(|_| open) else {
            continue;
        };
        match prop.as_str() {
            "FN" if full.is_none() => *full = Some(unescape(value)).filter(|n| !n.is_empty()),
            "N" if given.is_none() => {
                let parts: Vec<String> = value.split(';').map(unescape).collect();
                let shown = [parts.get(1), parts.first()]
                    .into_iter()
                    .flatten()
                    .filter(|p| !p.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ");
                *given = Some(shown).filter(|n| !n.is_empty());
            }
            "TEL" => {
                let waid = params.find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("waid")
                        .then(|| v.trim().to_string())
                });
                let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
                match waid {
                    Some(w) => *tel = Some(digits(&w)),
                    None if tel.is_none() => *tel = Some(digits(value)).filter(|d| !d.is_empty()),
                    None => {}
                }
            }
            _ => {}
        }
    }
    if cards.is_empty() {
        return Err("'vcard' must be vCard text: BEGIN:VCARD ... END:VCARD".into());
    }
    if cards.len() > MAX_CARDS {
        return Err(format!(
            "'vcard' holds over {} cards; at most that many go in one message",
            MAX_CARDS
        ));
    }
    let lone = cards.len() == 1;
    let given = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let (name, number) = (given(name), given(number));
    cards
        .into_iter()
        .enumerate()
        .map(|(i, (full, given, tel))| {
            let (name, number) = match lone {
                true => (name.clone().or(full).or(given), number.clone().or(tel)),
                false => (full.or(given), tel),
            };
            let number: String = number
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            let id = Wid::parse(&format!("{number}@c.us")).map_err(|_| {
                format!("card {} of 'vcard' has no phone number WhatsApp can send (a TEL of 5 to 20 digits, or 'contactNumber')", i + 1)
            })?;
            let name = name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| format!("+{number}"));
            Ok(CardOf { id, name })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vcard_becomes_the_cards_whatsapp_web_sends() {
        let shown = |cards: Vec<CardOf>| {
            cards
                .into_iter()
                .map(|c| (c.id.as_str().to_string(), c.name))
                .collect::<Vec<_>>()
        };
        // As vcards-js writes one: CRLF, a TEL without waid.
        let one = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Baker;Anna;;;\r\nFN:Anna Baker\r\nTEL;TYPE=WORK,VOICE:+1 (555) 700-2222\r\nEND:VCARD\r\n";
        assert_eq!(
            shown(vcard_cards(one, None, None).unwrap()),
            [("15557002222@c.us".to_string(), "Anna Baker".to_string())]
        );
        // contactName and contactNumber stand in for a lone card's.
        assert_eq!(
            shown(vcard_cards(one, Some("Shop"), Some("15557003333")).unwrap()),
            [("15557003333@c.us".to_string(), "Shop".to_string())]
        );
        // waid wins over an earlier TEL; a folded line, a group prefix, N
        // without FN, an escaped comma.
        let two = "BEGIN:VCARD\nN:Smith\\, Jr;Bob\nTEL:+44 20 0000 0000\nitem1.TEL;type=CELL;waid=447700900\n 123:+44 7700 900123\nEND:VCARD\nbegin:vcard\nFN:Cy\nTEL:5557004444\nend:vcard";
        assert_eq!(
            shown(vcard_cards(two, Some("ignored"), Some("15550000000")).unwrap()),
            [
                ("447700900123@c.us".to_string(), "Bob Smith, Jr".to_string()),
                ("5557004444@c.us".to_string(), "Cy".to_string()),
            ]
        );
        // vCard 2.1 as old phones export it: quoted-printable, a soft line
        // break, UTF-8 or Latin-1.
        let v21 = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=B6rg;;;\r\nFN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=B6rg M=C3=BC=\r\nller\r\nTEL;CELL:+49 170 1234567\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=ISO-8859-1;QUOTED-PRINTABLE:Ren=E9 =3D 1\r\nTEL:15557006666\r\nEND:VCARD";
        assert_eq!(
            shown(vcard_cards(v21, None, None).unwrap()),
            [
                ("491701234567@c.us".to_string(), "Jörg Müller".to_string()),
                ("15557006666@c.us".to_string(), "René = 1".to_string()),
            ]
        );
        // Text already in the card stays as it is; a `=` before no hex digits
        // is text; Windows-1252's quotes; a stray soft break
        // does not swallow the card's end.
        let odd = "BEGIN:VCARD\nFN;CHARSET=windows-1252;ENCODING=QUOTED-PRINTABLE:M\u{fc}ller =93Ren=E9=94 =+A = x\nTEL:15557007777\nEND:VCARD\nBEGIN:VCARD\nFN;ENCODING=QUOTED-PRINTABLE:Ana=  \n Lu=\nEND:VCARD";
        assert_eq!(
            vcard_cards(odd, None, None).unwrap_err(),
            "card 2 of 'vcard' has no phone number WhatsApp can send (a TEL of 5 to 20 digits, or 'contactNumber')"
        );
        let odd = odd.replace(" Lu=\nEND", " Lu\nTEL:15557008888\nEND");
        assert_eq!(
            shown(vcard_cards(&odd, None, None).unwrap()),
            [
                (
                    "15557007777@c.us".to_string(),
                    "Müller \u{201c}René\u{201d} =+A = x".to_string()
                ),
                ("15557008888@c.us".to_string(), "Ana Lu".to_string()),
            ]
        );
        // No name: the number shown.
        let bare = "BEGIN:VCARD\nTEL:15557005555\nEND:VCARD";
        assert_eq!(
            vcard_cards(bare, None, None).unwrap()[0].name,
            "+15557005555"
        );
        assert!(
            vcard_cards("hello", None, None)
                .unwrap_err()
                .contains("BEGIN:VCARD")
        );
        assert!(
            vcard_cards("BEGIN:VCARD\nFN:X\nEND:VCARD", None, None)
                .unwrap_err()
                .contains("phone number")
        );
        let many = "BEGIN:VCARD\nTEL:15557005555\nEND:VCARD\n".repeat(21);
        assert!(
            vcard_cards(&many, None, None)
                .unwrap_err()
                .contains("over 20 cards")
        );
        assert_eq!(
            vcard_cards(&many[..many.len() / 21 * 20], None, None)
                .unwrap()
                .len(),
            20
        );
        // Blank stand-ins are not given; a byte-order mark is no text.
        assert_eq!(
            shown(vcard_cards(&format!("\u{feff}{one}"), Some(" "), Some("")).unwrap()),
            [("15557002222@c.us".to_string(), "Anna Baker".to_string())]
        );
    }
}
