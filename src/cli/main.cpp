// clapsearch command line: parses arguments and dispatches to one file per subcommand.
#include <cstdio>
int main() { std::puts("clapsearch"); return 0; }
