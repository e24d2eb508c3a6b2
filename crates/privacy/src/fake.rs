//! Realistic fake values derived deterministically from the key and the input: the same input
//! and key give the same fake value everywhere (every table, every file, every run), so masked
//! data still joins.
//!
//! The word lists are small and written for this crate: common given names and surnames across
//! European languages, street and city names. E-mail addresses use the reserved
//! `example.com`/`example.org`/`example.net` domains (RFC 2606) and phone numbers the UK
//! ranges reserved for fiction (11,000 numbers), so a fake value never reaches a real person.
//! Fake values are not unique: distinct inputs can share a fake value (a name is one of
//! 7,000 combinations), which matters only for columns with a uniqueness constraint; e-mails
//! carry a number to make that rarer.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::key::{KeyPurpose, RootKey};

type HmacSha256 = Hmac<Sha256>;

/// The kind of fake value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FakeKind {
    /// "Given Surname".
    Name,
    /// A given name.
    FirstName,
    /// A surname.
    LastName,
    /// `given.surname1234@example.org`.
    Email,
    /// A street address: number and street.
    Address,
    /// A European city.
    City,
    /// A phone number in a UK range reserved for fiction, in international format.
    Phone,
}

impl FakeKind {
    fn label(self) -> &'static [u8] {
        match self {
            FakeKind::Name => b"name",
            FakeKind::FirstName => b"first_name",
            FakeKind::LastName => b"last_name",
            FakeKind::Email => b"email",
            FakeKind::Address => b"address",
            FakeKind::City => b"city",
            FakeKind::Phone => b"phone",
        }
    }
}

/// Given names common across European languages.
pub const FIRST_NAMES: &[&str] = &[
    "Adam",
    "Agnieszka",
    "Alba",
    "Alessandro",
    "Alexandre",
    "Alice",
    "Amelia",
    "Ana",
    "Andrea",
    "Anna",
    "Antoine",
    "Astrid",
    "Bart",
    "Beatriz",
    "Camille",
    "Carla",
    "Carlos",
    "Chiara",
    "Chloé",
    "Clara",
    "Daan",
    "Daniel",
    "David",
    "Diego",
    "Elena",
    "Elias",
    "Elif",
    "Emil",
    "Emma",
    "Eva",
    "Felix",
    "Filip",
    "Francesca",
    "Gabriel",
    "Giulia",
    "Hanna",
    "Hugo",
    "Ines",
    "Isabel",
    "Ivan",
    "Jakub",
    "Jan",
    "Javier",
    "Jonas",
    "Julia",
    "Julien",
    "Karin",
    "Katarzyna",
    "Laura",
    "Léa",
    "Leon",
    "Liam",
    "Lina",
    "Lorenzo",
    "Louis",
    "Lucas",
    "Lucía",
    "Luis",
    "Maja",
    "Marco",
    "Margaux",
    "María",
    "Marie",
    "Mateo",
    "Matteo",
    "Maximilian",
    "Mia",
    "Mikkel",
    "Nathalie",
    "Nico",
    "Noah",
    "Nora",
    "Olivia",
    "Oscar",
    "Paul",
    "Pedro",
    "Petra",
    "Pierre",
    "Pieter",
    "Rafael",
    "Rosa",
    "Sara",
    "Sebastian",
    "Sofia",
    "Sophie",
    "Stefan",
    "Thomas",
    "Tomasz",
    "Valentina",
    "Victor",
    "Zoé",
];

/// Surnames common across European languages.
pub const LAST_NAMES: &[&str] = &[
    "Andersen",
    "Bauer",
    "Becker",
    "Bernard",
    "Bianchi",
    "Colombo",
    "Costa",
    "Dubois",
    "Durand",
    "Eriksson",
    "Esposito",
    "Fernández",
    "Ferrari",
    "Fischer",
    "Fontaine",
    "García",
    "Girard",
    "González",
    "Hansen",
    "Hoffmann",
    "Horvat",
    "Jansen",
    "Johansson",
    "Kowalski",
    "Kovács",
    "Lambert",
    "Larsen",
    "Laurent",
    "Lefebvre",
    "Leroy",
    "López",
    "Martin",
    "Martínez",
    "Meyer",
    "Moreau",
    "Müller",
    "Nagy",
    "Nielsen",
    "Novák",
    "Nowak",
    "O'Brien",
    "Pereira",
    "Petit",
    "Popescu",
    "Ricci",
    "Richard",
    "Rodríguez",
    "Romano",
    "Rossi",
    "Roux",
    "Russo",
    "Sánchez",
    "Santos",
    "Schmidt",
    "Schneider",
    "Schulz",
    "Silva",
    "Smith",
    "Svensson",
    "Thomas",
    "Van Dijk",
    "De Vries",
    "Vasile",
    "Virtanen",
    "Wagner",
    "Weber",
    "Wiśniewski",
    "Wójcik",
    "Yilmaz",
    "Zimmermann",
];

/// Street names; the house number is added in front.
pub const STREETS: &[&str] = &[
    "Rue des Lilas",
    "Rue du Moulin",
    "Avenue des Tilleuls",
    "Boulevard de la Gare",
    "Chemin des Vignes",
    "Place du Marché",
    "Rue de l'Église",
    "Allée des Cerisiers",
    "Lindenstraße",
    "Bahnhofstraße",
    "Gartenweg",
    "Schulstraße",
    "Via Roma",
    "Via Garibaldi",
    "Via dei Mille",
    "Calle Mayor",
    "Calle del Sol",
    "Avenida de la Constitución",
    "Rua das Flores",
    "Kerkstraat",
    "Molenweg",
    "Stationsplein",
    "Storgatan",
    "Ulica Polna",
    "Oak Lane",
    "Mill Road",
    "Church Street",
    "High Street",
    "Station Road",
    "Park Avenue",
];

/// European cities.
pub const CITIES: &[&str] = &[
    "Amsterdam",
    "Antwerpen",
    "Barcelona",
    "Berlin",
    "Bilbao",
    "Bologna",
    "Bordeaux",
    "Brno",
    "Bruxelles",
    "Budapest",
    "Cork",
    "Dresden",
    "Dublin",
    "Edinburgh",
    "Gdańsk",
    "Genève",
    "Göteborg",
    "Graz",
    "Hamburg",
    "Helsinki",
    "Kraków",
    "Lille",
    "Lisboa",
    "Ljubljana",
    "Lyon",
    "Madrid",
    "Marseille",
    "Milano",
    "München",
    "Nantes",
    "Napoli",
    "Porto",
    "Praha",
    "Rotterdam",
    "Salzburg",
    "Sevilla",
    "Stockholm",
    "Strasbourg",
    "Tallinn",
    "Torino",
    "Toulouse",
    "Utrecht",
    "Valencia",
    "Vilnius",
    "Warszawa",
    "Wien",
    "Zagreb",
    "Zürich",
];

/// UK number blocks reserved for fiction, in international format; three digits follow, so
/// each block gives 1,000 numbers.
const FICTION_PHONE_BLOCKS: &[&str] = &[
    "+44 7700 900",
    "+44 20 7946 0",
    "+44 113 496 0",
    "+44 114 496 0",
    "+44 115 496 0",
    "+44 116 496 0",
    "+44 117 496 0",
    "+44 118 496 0",
    "+44 121 496 0",
    "+44 131 496 0",
    "+44 141 496 0",
];

const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

/// Derives fake values from a key.
#[derive(Clone)]
pub struct Faker {
    keyed: HmacSha256,
}

impl std::fmt::Debug for Faker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faker(<keyed>)")
    }
}

struct Seed {
    bytes: [u8; 32],
    next: usize,
}

impl Seed {
    /// An index below `n`, from the next 4 bytes of the seed (bias below 2^-20 for the list
    /// sizes used here).
    fn pick(&mut self, n: usize) -> usize {
        let i = self.next % 28;
        self.next += 4;
        let word = u32::from_le_bytes([
            self.bytes[i],
            self.bytes[i + 1],
            self.bytes[i + 2],
            self.bytes[i + 3],
        ]);
        (word as usize) % n.max(1)
    }
}

impl Faker {
    /// A faker keyed by `root` (HKDF purpose "fake").
    pub fn new(root: &RootKey) -> Self {
        Self { keyed: root.derive::<64>(KeyPurpose::Fake, "").hmac_sha256() }
    }

    fn seed(&self, kind: FakeKind, input: &str) -> Seed {
        let mut mac = self.keyed.clone();
        mac.update(kind.label());
        mac.update(&[0]);
        mac.update(input.as_bytes());
        Seed { bytes: mac.finalize().into_bytes().into(), next: 0 }
    }

    /// The fake value of `kind` for `input`.
    pub fn fake(&self, kind: FakeKind, input: &str) -> String {
        let mut out = String::with_capacity(32);
        self.fake_into(kind, input, &mut out);
        out
    }

    /// Appends the fake value of `kind` for `input` to `out`.
    pub fn fake_into(&self, kind: FakeKind, input: &str, out: &mut String) {
        use std::fmt::Write as _;
        let mut seed = self.seed(kind, input);
        match kind {
            FakeKind::FirstName => out.push_str(FIRST_NAMES[seed.pick(FIRST_NAMES.len())]),
            FakeKind::LastName => out.push_str(LAST_NAMES[seed.pick(LAST_NAMES.len())]),
            FakeKind::Name => {
                out.push_str(FIRST_NAMES[seed.pick(FIRST_NAMES.len())]);
                out.push(' ');
                out.push_str(LAST_NAMES[seed.pick(LAST_NAMES.len())]);
            }
            FakeKind::Email => {
                push_folded(out, FIRST_NAMES[seed.pick(FIRST_NAMES.len())]);
                out.push('.');
                push_folded(out, LAST_NAMES[seed.pick(LAST_NAMES.len())]);
                let _ = write!(out, "{}@", seed.pick(10_000));
                out.push_str(EMAIL_DOMAINS[seed.pick(EMAIL_DOMAINS.len())]);
            }
            FakeKind::Address => {
                let _ = write!(out, "{} ", 1 + seed.pick(199));
                out.push_str(STREETS[seed.pick(STREETS.len())]);
            }
            FakeKind::City => out.push_str(CITIES[seed.pick(CITIES.len())]),
            FakeKind::Phone => {
                let block = FICTION_PHONE_BLOCKS[seed.pick(FICTION_PHONE_BLOCKS.len())];
                out.push_str(block);
                let _ = write!(out, "{:03}", seed.pick(1000));
            }
        }
    }
}

/// Appends `name` in lowercase ASCII for an e-mail local part: accents dropped, spaces and
/// apostrophes removed.
fn push_folded(out: &mut String, name: &str) {
    for c in name.chars() {
        let folded = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' | 'ć' => 'c',
            'ñ' | 'ń' => 'n',
            'ś' | 'š' => 's',
            'ł' => 'l',
            'ß' => 's',
            ' ' | '\'' | '-' => continue,
            other => other.to_ascii_lowercase(),
        };
        if folded.is_ascii_alphanumeric() {
            out.push(folded);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::{PiiKind, scan_text};
    use proptest::prelude::*;

    fn faker(seed: u8) -> Faker {
        Faker::new(
            &RootKey::from_bytes(&(0u8..32).map(|i| i.wrapping_add(seed)).collect::<Vec<_>>())
                .unwrap(),
        )
    }

    #[test]
    fn fakes_look_like_their_kind() {
        let f = faker(1);
        let email = f.fake(FakeKind::Email, "alice@corp.example");
        let found = scan_text(&email);
        assert_eq!(found.len(), 1, "{email}");
        assert_eq!(found[0].kind, PiiKind::Email);
        assert!(email.ends_with(".com") || email.ends_with(".org") || email.ends_with(".net"));
        let phone = f.fake(FakeKind::Phone, "+33 6 12 34 56 78");
        assert!(phone.starts_with("+44 "), "{phone}");
        assert_eq!(scan_text(&phone).first().map(|x| x.kind), Some(PiiKind::Phone), "{phone}");
        let name = f.fake(FakeKind::Name, "Jean Dupont");
        let (first, last) = name.split_once(' ').unwrap();
        assert!(FIRST_NAMES.contains(&first) && LAST_NAMES.contains(&last), "{name}");
        assert!(CITIES.contains(&f.fake(FakeKind::City, "Paris").as_str()));
        let address = f.fake(FakeKind::Address, "1 rue X");
        let (number, street) = address.split_once(' ').unwrap();
        assert!(number.parse::<u32>().is_ok() && STREETS.contains(&street), "{address}");
    }

    #[test]
    fn fakes_spread_over_the_lists() {
        let f = faker(1);
        let distinct: std::collections::HashSet<String> =
            (0..500).map(|i| f.fake(FakeKind::FirstName, &format!("person {i}"))).collect();
        assert!(distinct.len() > FIRST_NAMES.len() / 2, "{}", distinct.len());
    }

    proptest! {
        #[test]
        fn deterministic_per_key_and_kind(input in ".{0,40}") {
            let (a, b) = (faker(1), faker(2));
            for kind in [FakeKind::Name, FakeKind::Email, FakeKind::Address, FakeKind::City, FakeKind::Phone, FakeKind::FirstName, FakeKind::LastName] {
                prop_assert_eq!(a.fake(kind, &input), a.fake(kind, &input));
            }
            // Another key gives another e-mail (collision chance is negligible).
            prop_assert_ne!(a.fake(FakeKind::Email, &input), b.fake(FakeKind::Email, &input));
        }
    }
}
