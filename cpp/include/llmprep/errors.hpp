// The project's own exception types. The core throws these (or std::invalid_argument /
// std::out_of_range); the binding turns each into the Python exception named beside it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace llmprep {

// -> KeyError: a word or id that is not in a vocabulary. The message is the missing key itself,
// formatted as Python's repr would show it, so `KeyError: 'Hello'` reads like the chapter's.
class KeyError : public std::out_of_range {
 public:
  explicit KeyError(const std::string& key) : std::out_of_range(key), key_(key) {}
  // The whole key: what() is a C string and would stop at a NUL inside a word.
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

// -> llmprep.InvalidUTF8Error (a ValueError): bytes that are not UTF-8. Carries the byte offset.
class Utf8Error : public std::invalid_argument {
 public:
  Utf8Error(const std::string& message, int64_t offset, std::string reason)
      : std::invalid_argument(message), offset_(offset), reason_(std::move(reason)) {}
  int64_t offset() const noexcept { return offset_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  int64_t offset_;
  std::string reason_;
};

// -> OSError: a file that cannot be opened, read or written. Carries errno.
class IoError : public std::runtime_error {
 public:
  IoError(const std::string& message, int errnum) : std::runtime_error(message), errnum_(errnum) {}
  int errnum() const noexcept { return errnum_; }

 private:
  int errnum_;
};

}  // namespace llmprep
