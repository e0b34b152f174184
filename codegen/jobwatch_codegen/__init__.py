"""jobwatch-codegen: JSON Schema (draft 2020-12, a typed subset) to C++ and TypeScript."""

__version__ = "0.1.0"
# Must equal jobwatch::codegen_abi in include/jobwatch/codec.hpp.
CODEGEN_ABI = 2
