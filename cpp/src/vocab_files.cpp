// Parsers for BPE vocabulary files: GPT-2's vocab.bpe + encoder.json (with the cross-check that
// tiktoken relies on: ranks must follow merge order) and tiktoken's base64 rank files.
//
// Performance notes
// -----------------
// Measured on this 2-core VM (GPT-2: 456 KB vocab.bpe, 1.0 MB encoder.json, 50,000 merges):
// * tiktoken's Python parser (data_gym_to_mergeable_bpe_ranks) takes ~150-190 ms per process,
//   mostly in decode_data_gym (one generator per token) and json.loads.
// * This file: ~8 ms for both files (parse only; building the BpeEncoder tables after it is
//   another ~15 ms). The cross-check needs no hash table: encoder.json's id is the index of the
//   token vocab.bpe put at that rank, so each entry is one string comparison.
// * UTF-8 is validated once per file (the shared validator), then characters are decoded without
//   checks; only the 324 code points of GPT-2's byte alphabet map to a byte.
#include "llmprep/vocab_files.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "llmprep/utf8.hpp"

namespace llmprep::vocab {

namespace {

// GPT-2's bytes_to_unicode: a byte that Python's str.isprintable() accepts (other than space)
// stands for itself; the other 68 bytes, in order, are spelled U+0100..U+0143.
constexpr bool printable_byte(unsigned b) noexcept {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}
constexpr uint32_t kAlphabetSize = 256 + 68;

struct Alphabet {
  int16_t byte_of[kAlphabetSize];
  unsigned char rank_byte[256];
};

const Alphabet& alphabet() {
  static const Alphabet table = [] {
    Alphabet a{};
    for (uint32_t cp = 0; cp < kAlphabetSize; ++cp) a.byte_of[cp] = -1;
    unsigned rank = 0;
    for (unsigned b = 0; b < 256; ++b) {
      if (printable_byte(b)) {
        a.byte_of[b] = int16_t(b);
        a.rank_byte[rank++] = static_cast<unsigned char>(b);
      }
    }
    unsigned extra = 0;
    for (unsigned b = 0; b < 256; ++b) {
      if (!printable_byte(b)) {
        a.byte_of[256 + extra++] = int16_t(b);
        a.rank_byte[rank++] = static_cast<unsigned char>(b);
      }
    }
    return a;
  }();
  return table;
}

// Text for an error message: printable ASCII kept, anything else as \xNN, cut at 80 bytes.
// Messages become Python str, so they must be valid UTF-8 whatever the file held.
std::string shown(std::string_view text) {
  static const char* hex = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') {
      out += char(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (text.size() > 80) out += "...";
  return out + "'";
}

std::string code_point_name(uint32_t cp) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", unsigned(cp));
  return buffer;
}

void require_utf8(std::string_view data, std::string_view name, const char* what) {
  const Utf8Fault fault = find_utf8_fault(data);
  if (fault.offset >= 0) {
    throw std::invalid_argument(std::string(name) + " is not a " + what + ": it is not UTF-8 text (" + fault.reason +
                                " at byte " + std::to_string(fault.offset) + ")");
  }
}

// Appends the bytes a token spelled in GPT-2's alphabet stands for. Returns false, with the
// first character that stands for no byte in `bad`, if there is one. `token` is valid UTF-8.
bool decode_token(std::string_view token, std::string& out, uint32_t& bad) {
  const Alphabet& a = alphabet();
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  const auto* end = p + token.size();
  while (p < end) {
    uint32_t cp;
    p += decode_code_point(p, cp);
    if (cp >= kAlphabetSize || a.byte_of[cp] < 0) {
      bad = cp;
      return false;
    }
    out += char(a.byte_of[cp]);
  }
  return true;
}

bool ascii_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n'; }

// Splits a line at runs of ASCII whitespace (bytes.split() / str.split() for these files).
size_t split_fields(std::string_view line, std::string_view* fields, size_t max_fields) {
  size_t n = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && ascii_space(line[i])) ++i;
    if (i == line.size()) break;
    const size_t start = i;
    while (i < line.size() && !ascii_space(line[i])) ++i;
    if (n < max_fields) fields[n] = line.substr(start, i - start);
    ++n;
  }
  return n;
}

// A JSON reader for exactly what encoder.json is: one object of string keys and integer values.
class EncoderJson {
 public:
  EncoderJson(std::string_view text, std::string_view name) : s_(text), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(std::string(name_) + " is not valid JSON (" + what + " at byte " + std::to_string(i_) +
                                "); it should be a JSON object mapping tokens to integer ids");
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void expect(char c, const char* what) {
    skip_space();
    if (peek() != c) fail(std::string("expected ") + what);
    ++i_;
  }
  bool take(char c) {
    skip_space();
    if (peek() != c) return false;
    ++i_;
    return true;
  }

  // A string, unescaped, as code points (keys are short; the file was checked to be UTF-8).
  void read_string(std::vector<uint32_t>& cps) {
    cps.clear();
    skip_space();
    if (peek() != '"') fail("expected a string key");
    ++i_;
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return;
      }
      if (c < 0x20) fail("control character in a string");
      if (c != '\\') {
        uint32_t cp;
        i_ += size_t(decode_code_point(reinterpret_cast<const unsigned char*>(s_.data()) + i_, cp));
        cps.push_back(cp);
        continue;
      }
      ++i_;
      const char e = peek();
      ++i_;
      switch (e) {
        case '"':
          cps.push_back('"');
          break;
        case '\\':
          cps.push_back('\\');
          break;
        case '/':
          cps.push_back('/');
          break;
        case 'b':
          cps.push_back('\b');
          break;
        case 'f':
          cps.push_back('\f');
          break;
        case 'n':
          cps.push_back('\n');
          break;
        case 'r':
          cps.push_back('\r');
          break;
        case 't':
          cps.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = read_hex4();
          // A surrogate pair is one character (as json.loads reads it); a lone surrogate stays
          // itself and later maps to no byte.
          if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
            const size_t save = i_;
            i_ += 2;
            const uint32_t low = read_hex4();
            if (low >= 0xDC00 && low < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              i_ = save;
            }
          }
          cps.push_back(cp);
          break;
        }
        default:
          --i_;
          fail("invalid escape");
      }
    }
  }

  // An integer value: -?(0|[1-9][0-9]*). Returns false for any other JSON value (which it skips
  // only as far as needed to name it); out of range values come back as -1.
  bool read_integer(int64_t& value) {
    skip_space();
    const size_t start = i_;
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++i_;
    }
    if (peek() < '0' || peek() > '9') {
      i_ = start;
      return false;
    }
    uint64_t v = 0;
    bool huge = false;
    if (peek() == '0') {
      ++i_;
    } else {
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + uint64_t(peek() - '0');
        if (v > (uint64_t(1) << 40)) huge = true, v = uint64_t(1) << 40;
        ++i_;
      }
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E') {
      i_ = start;
      return false;
    }
    value = (negative || huge) ? -1 : int64_t(v);
    return true;
  }

 private:
  uint32_t read_hex4() {
    if (i_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= uint32_t(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= uint32_t(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= uint32_t(c - 'A' + 10);
      } else {
        --i_;
        fail("invalid \\u escape");
      }
    }
    return v;
  }

  std::string_view s_;
  std::string_view name_;
  size_t i_ = 0;
};

std::string utf8_of(const std::vector<uint32_t>& cps) {
  std::string out;
  for (uint32_t cp : cps) {
    // Lone surrogates have no UTF-8 form; they only ever reach an error message (escaped).
    append_utf8(out, (cp >= 0xD800 && cp < 0xE000) ? 0xFFFD : cp);
  }
  return out;
}

bool decode_key(const std::vector<uint32_t>& cps, std::string& out, uint32_t& bad) {
  const Alphabet& a = alphabet();
  out.clear();
  for (uint32_t cp : cps) {
    if (cp >= kAlphabetSize || a.byte_of[cp] < 0) {
      bad = cp;
      return false;
    }
    out += char(a.byte_of[cp]);
  }
  return true;
}

int base64_value(unsigned char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// base64.b64decode(text, validate=True) as CPython 3.11 runs it: the alphabet, then at most two
// '='; with d data characters and p pads it accepts d % 4 == 0 (any p, but not p > 0 when d == 0),
// d % 4 == 2 with p == 2 and d % 4 == 3 with p == 1. Extra bits in the last character are
// ignored, as Python does.
bool decode_base64(std::string_view text, std::string& out) {
  out.clear();
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  const size_t data = text.size() - pad;
  switch (data % 4) {
    case 0:
      if (data == 0 && pad > 0) return false;
      break;
    case 2:
      if (pad != 2) return false;
      break;
    case 3:
      if (pad != 1) return false;
      break;
    default:
      return false;
  }
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data; ++i) {
    const int v = base64_value(static_cast<unsigned char>(text[i]));
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xFF);
    }
  }
  return true;
}

}  // namespace

int data_gym_byte(uint32_t cp) noexcept { return cp < kAlphabetSize ? alphabet().byte_of[cp] : -1; }

unsigned char data_gym_rank_byte(unsigned r) noexcept { return alphabet().rank_byte[r & 255]; }

DataGymTable parse_data_gym(std::string_view vocab_bpe, std::string_view encoder_json, std::string_view vocab_name,
                            std::string_view encoder_name) {
  DataGymTable table;
  RankList& ranks = table.mergeable;
  const std::string vname(vocab_name);
  const std::string ename(encoder_name);

  // vocab.bpe: '#version ...', then one merge "left right" per line; rank = 256 + line index.
  require_utf8(vocab_bpe, vocab_name, "GPT-2 vocab.bpe file");
  const size_t first_end = std::min(vocab_bpe.find('\n'), vocab_bpe.size());
  if (vocab_bpe.substr(0, first_end).substr(0, 8) != "#version") {
    throw std::invalid_argument(vname + " is not a GPT-2 vocab.bpe file: its first line should be '#version: ...'");
  }
  ranks.reserve(256 + size_t(std::count(vocab_bpe.begin(), vocab_bpe.end(), '\n')));
  for (unsigned r = 0; r < 256; ++r) ranks.emplace_back(std::string(1, char(data_gym_rank_byte(r))), r);
  size_t pos = first_end + 1;
  int64_t number = 1;
  while (pos < vocab_bpe.size()) {
    ++number;
    const size_t end = std::min(vocab_bpe.find('\n', pos), vocab_bpe.size());
    std::string_view line = vocab_bpe.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    if (line.empty()) continue;
    std::string_view fields[2];
    if (split_fields(line, fields, 2) != 2) {
      throw std::invalid_argument(vname + " is corrupt: line " + std::to_string(number) +
                                  " should be two tokens, not " + shown(line));
    }
    std::string bytes;
    uint32_t bad = 0;
    if (!decode_token(fields[0], bytes, bad) || !decode_token(fields[1], bytes, bad)) {
      throw std::invalid_argument(vname + " is corrupt: line " + std::to_string(number) + " has the character " +
                                  code_point_name(bad) + ", which no byte maps to");
    }
    ranks.emplace_back(std::move(bytes), uint32_t(ranks.size()));
  }

  // encoder.json: every ordinary token with its id, which must be its rank above.
  size_t skip = 0;
  if (encoder_json.substr(0, 3) == "\xEF\xBB\xBF") skip = 3;  // a UTF-8 BOM, as json.loads(bytes) allows
  encoder_json.remove_prefix(skip);
  require_utf8(encoder_json, encoder_name, "GPT-2 encoder.json file");
  // Parse first, check after: a syntax error anywhere is reported as such, as json.loads would.
  struct Entry {
    std::string key;  // UTF-8, lone surrogates as U+FFFD (only ever shown in messages)
    std::vector<uint32_t> cps;
    int64_t id;
  };
  std::vector<Entry> entries;
  entries.reserve(ranks.size() + 2);
  {
    EncoderJson json(encoder_json, encoder_name);
    std::vector<uint32_t> key;
    json.expect('{', "'{'");
    if (!json.take('}')) {
      do {
        json.read_string(key);
        json.expect(':', "':'");
        int64_t id = 0;
        if (!json.read_integer(id)) {
          throw std::invalid_argument(ename + " is corrupt: the value of " + shown(utf8_of(key)) +
                                      " should be an integer id");
        }
        entries.push_back(Entry{utf8_of(key), key, id});
      } while (json.take(','));
      json.expect('}', "',' or '}'");
    }
    json.skip_space();
    if (!json.at_end()) json.fail("extra data after the object");
  }

  std::vector<uint8_t> seen(ranks.size(), 0);
  size_t matched = 0;
  std::string bytes;
  for (const Entry& entry : entries) {
    const std::string& text = entry.key;
    const int64_t id = entry.id;
    if (text == "<|endoftext|>" || text == "<|startoftext|>") {
      if (id < 0 || id > int64_t(0xFFFFFFFE)) {
        throw std::invalid_argument(ename + ": the special token " + text + " has the id " + std::to_string(id) +
                                    ", outside 0..4294967294");
      }
      for (const auto& special : table.special) {
        if (special.first == text) throw std::invalid_argument(ename + " is corrupt: it lists " + text + " twice");
      }
      table.special.emplace_back(text, uint32_t(id));
      continue;
    }
    uint32_t bad = 0;
    if (!decode_key(entry.cps, bytes, bad)) {
      throw std::invalid_argument(ename + " is corrupt: token " + shown(text) + " has the character " +
                                  code_point_name(bad) + ", which no byte maps to");
    }
    if (id < 0 || uint64_t(id) >= ranks.size() || ranks[size_t(id)].first != bytes) {
      std::string detail = "token " + shown(text) + " has the id " + std::to_string(id);
      if (id >= 0 && uint64_t(id) < ranks.size()) {
        detail += " but " + vname + " gives that rank to " + shown(ranks[size_t(id)].first);
      } else {
        detail += " but " + vname + " has ranks 0.." + std::to_string(ranks.size() - 1);
      }
      throw std::invalid_argument(ename + " and " + vname + " disagree (" + detail +
                                  "); they must come from the same model");
    }
    if (seen[size_t(id)]) {
      throw std::invalid_argument(ename + " is corrupt: it lists token " + shown(text) + " (id " + std::to_string(id) +
                                  ") twice");
    }
    seen[size_t(id)] = 1;
    ++matched;
  }
  if (matched != ranks.size()) {
    size_t missing = 0;
    while (seen[missing]) ++missing;
    throw std::invalid_argument(ename + " and " + vname + " disagree (" + vname + " has " +
                                std::to_string(ranks.size()) + " tokens, " + ename + " " + std::to_string(matched) +
                                "; e.g. rank " + std::to_string(missing) + ", " + shown(ranks[missing].first) +
                                ", is missing); they must come from the same model");
  }
  return table;
}

RankList parse_tiktoken_bpe(std::string_view contents, std::string_view name) {
  RankList ranks;
  ranks.reserve(size_t(std::count(contents.begin(), contents.end(), '\n')) + 1);
  size_t pos = 0;
  int64_t number = 0;
  std::string token;
  while (pos < contents.size()) {
    // bytes.splitlines(): \n, \r and \r\n end a line.
    size_t end = pos;
    while (end < contents.size() && contents[end] != '\n' && contents[end] != '\r') ++end;
    const std::string_view line = contents.substr(pos, end - pos);
    pos = end;
    if (pos < contents.size()) {
      if (contents[pos] == '\r' && pos + 1 < contents.size() && contents[pos + 1] == '\n') ++pos;
      ++pos;
    }
    ++number;
    if (line.empty()) continue;
    std::string_view fields[2];
    bool ok = split_fields(line, fields, 2) == 2 && decode_base64(fields[0], token);
    uint64_t rank = 0;
    if (ok) {
      ok = !fields[1].empty() && fields[1].size() <= 10;
      for (char c : fields[1]) {
        if (c < '0' || c > '9') ok = false;
        rank = rank * 10 + uint64_t(c - '0');
      }
      ok = ok && rank <= 0xFFFFFFFEull;
    }
    if (!ok) {
      throw std::invalid_argument(std::string(name) + " is corrupt: line " + std::to_string(number) +
                                  " should be 'base64-token rank', not " + shown(line));
    }
    ranks.emplace_back(token, uint32_t(rank));
  }
  if (ranks.empty()) throw std::invalid_argument(std::string(name) + " holds no tokens");
  return ranks;
}

}  // namespace llmprep::vocab
