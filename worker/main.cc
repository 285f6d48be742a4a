#include "cli/cli.h"

int main(int argc, char** argv) { return pgq::cli::Main(argc, argv); }
