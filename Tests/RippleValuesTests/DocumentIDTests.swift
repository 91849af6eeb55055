import RippleTestSupport
import Testing

@testable import RippleValues

@Suite struct DocumentIDTests {
    static let alphabet = Set("0123456789abcdefghjkmnpqrstvwxyz")

    static func sampleIDs() -> [DocumentID] {
        var rng = SeededRandom(seed: 8)
        var ids: [DocumentID] = []
        for table: UInt32 in [0, 1, 127, 128, 16383, 16384, 1 << 21, 1 << 28, .max] {
            for number: Int64 in [0, 1, -1, .min, .max, 1_000_000] {
                ids.append(DocumentID(tableNumber: table, documentNumber: number, random: rng.next()))
            }
        }
        ids.append(DocumentID(tableNumber: 5, documentNumber: 5, random: 0))
        ids.append(DocumentID(tableNumber: 5, documentNumber: 5, random: .max))
        return ids
    }

    @Test func stringRoundTrip() {
        for id in Self.sampleIDs() {
            let text = id.string
            #expect(DocumentID(text) == id, "\(text)")
            #expect(id.description == text)
            #expect((31...37).contains(text.count), "\(text)")
            #expect(text.allSatisfy { Self.alphabet.contains($0) }, "\(text)")
        }
    }

    @Test func stringsAreDistinctAndStable() {
        let ids = Self.sampleIDs()
        #expect(Set(ids.map(\.string)).count == ids.count)
        let id = DocumentID(tableNumber: 1, documentNumber: 2, random: 3)
        #expect(id.string == DocumentID(tableNumber: 1, documentNumber: 2, random: 3).string)
        #expect(id != DocumentID(tableNumber: 1, documentNumber: 2, random: 4))
    }

    @Test func checksumRejectsEverySingleCharacterTypo() {
        let alphabet = Array(Self.alphabet)
        for id in Self.sampleIDs().prefix(12) {
            let text = Array(id.string)
            for i in text.indices {
                for c in alphabet where c != text[i] {
                    var typo = text
                    typo[i] = c
                    #expect(DocumentID(String(typo)) == nil, "\(String(typo)) from \(id.string)")
                }
            }
        }
    }

    @Test func checksumRejectsMostTranspositions() {
        var rejected = 0
        var total = 0
        for id in Self.sampleIDs() {
            let text = Array(id.string)
            for i in 0..<text.count - 1 where text[i] != text[i + 1] {
                var swapped = text
                swapped.swapAt(i, i + 1)
                total += 1
                if DocumentID(String(swapped)) == nil { rejected += 1 }
            }
        }
        #expect(Double(rejected) / Double(total) > 0.99, "\(rejected) of \(total)")
    }

    @Test func rejectsForeignStrings() {
        let id = DocumentID(tableNumber: 3, documentNumber: 42, random: 0xDEAD_BEEF).string
        let foreign = [
            "", "abc", "hello world", id.uppercased(), id + "0", id + "00000", String(id.dropLast()), String(id.dropFirst()),
            "i" + id.dropFirst(), "l" + id.dropFirst(), "o" + id.dropFirst(), "u" + id.dropFirst(),
            "jd7f3k2m1n0p9q8r7s6t5v4w3x2y1z0a", "k57b3m2xqzv4n9c8d7e6f5g4h3j2k1m0",
            "0123456789abcdefghjkmnpqrstvwxyz", String(repeating: "0", count: 32), String(repeating: "z", count: 32),
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8", String(repeating: "😀", count: 8), String(repeating: "0", count: 80),
        ]
        for text in foreign {
            #expect(DocumentID(text) == nil, "\(text)")
        }
    }

    @Test func base32RejectsNonzeroPadding() {
        #expect(Base32.decode("00") == [0])
        #expect(Base32.decode("01") == nil)
        #expect(Base32.encode([0xFF]) == "zw")
        #expect(Base32.decode("zw") == [0xFF])
        #expect(Base32.decode("zx") == nil)
    }
}
