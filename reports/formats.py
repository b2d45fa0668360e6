"""The output formats of ``kaohe export`` (a leaf module: the CLI names them in its
options without importing the exporters, which pull in openpyxl and sqlite-utils)."""

EXPORT_FORMATS = ("xlsx", "csv", "docx")
