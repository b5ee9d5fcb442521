# The README's "From R" section as a script: the worked example through
# reticulate.
#
#   Rscript examples/from_r.R VENV [ADDRESS]
#
# VENV is a Python environment with ddc_client installed; ADDRESS defaults
# to $DDC_SERVER, else 127.0.0.1:50051 (a development server). Like
# example.py it can run any number of times.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript from_r.R VENV [ADDRESS]")
address <- if (length(args) > 1) args[2] else Sys.getenv("DDC_SERVER", "127.0.0.1:50051")
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(), value = TRUE)[1])))
pupils <- file.path(here, "pupils.csv")
incomes <- file.path(here, "incomes.csv")

library(reticulate)
use_virtualenv(args[1], required = TRUE)
ddc <- import("ddc_client")   # results convert to R: DataFrames become data.frames

client <- ddc$Client$connect(address)
# A vector of two or more strings becomes a Python list; one string stays a
# string, so wrap a single category in list().
invisible(client$ensure_dataset("duo.python", "duo", "pgn",
                      list(ddc$categorical("niveau", c("pro", "vmbo", "havo", "vwo")))))
invisible(client$ensure_dataset("cbs.python", "cbs", "pgn",
                      list(ddc$categorical("regio", c("noord", "oost", "zuid", "west")),
                           ddc$integer("inkomen"))))
for (upload in list(c("duo.python", pupils), c("cbs.python", incomes))) {
  receipt <- client$upload(upload[1], upload[2], replace = TRUE)
  cat(upload[1], ": stored ", receipt$rows_stored, " rows\n", sep = "")
}

table <- client$table("duo.python.niveau")
long <- table$long()
stopifnot(is.data.frame(long), is.logical(long$is_total))
# Withheld cells are NaN, so is.na() finds them.
stopifnot(all(is.na(long$value[long$status != "released"])))
print(long[!long$is_total & long$status == "released", c("niveau", "value")])

wide <- table$wide()
cat("total pupils (perturbed):", wide["Total", "value"], "\n")

cross <- client$table(c("duo.python.niveau", "cbs.python.regio"))$wide()
print(cross)
mean <- client$table("duo.python.niveau", measure = "mean",
                     variable = "cbs.python.inkomen")$long()
print(mean[, c("niveau", "value", "status")])

# A refusal is an R error. Its message starts with the canonical code and
# the server's reason, e.g. "NOT_FOUND (COLUMN_NOT_FOUND): ..." (with
# reticulate 1.28, tested here; newer reticulate also gives the Python
# exception's fields).
refused <- tryCatch(
  {
    client$table("duo.python.no_such_column")
    FALSE
  },
  error = function(e) {
    said <- regmatches(conditionMessage(e),
                       regexpr("[A-Z_]+ \\([A-Z_]+\\)", conditionMessage(e)))
    cat("refused:", said, "\n")
    identical(said, "NOT_FOUND (COLUMN_NOT_FOUND)")
  }
)
stopifnot(refused)
invisible(client$close())
