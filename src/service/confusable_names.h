// Names that are different characters but look the same: a Latin "alice" and one spelled with a
// Cyrillic "а" (U+0430), "amie" and "arnie", "bobl" and "bob1". Two user accounts whose names
// look alike let one pass for the other in every app's list of users, shares and "changed by".
// Unicode's answer is the confusable skeleton of UTS #39 (Unicode Security Mechanisms): two
// strings are confusable when their skeletons are equal. ICU's spoof checker (uspoof) keeps the
// data of that standard current; this file is the one place that includes it.
#pragma once
#include <string>

namespace clap::service {

// The UTS #39 skeleton of `utf8` (valid UTF-8), as UTF-8; throws clap::Error when ICU cannot
// make one (invalid text).
std::string confusable_skeleton(const std::string& utf8);

}  // namespace clap::service
