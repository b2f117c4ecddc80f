// Prints the columns schema_parts reads from migration SQL files given in order: TABLE.COLUMN VERSION null|notnull.
#include "store/schema_tables.h"
#include <fstream>
#include <iostream>
#include <sstream>
int main(int argc, char** argv) {
  std::vector<std::string> texts;
  for (int i = 1; i < argc; ++i) { std::ifstream f(argv[i]); std::stringstream s; s << f.rdbuf(); texts.push_back(s.str()); }
  std::vector<const char*> ptrs;
  for (auto& t : texts) ptrs.push_back(t.c_str());
  for (const auto& p : clap::store::schema_parts(ptrs.data(), (int)ptrs.size()))
    if (!p.column.empty()) std::cout << p.table << "." << p.column << " " << p.version << " " << (p.nullable ? "null" : "notnull") << "\n";
}
