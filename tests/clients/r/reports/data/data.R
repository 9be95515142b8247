# Non-ASCII metadata and file name, a 0-byte file and a multi-MiB file.
pars <- orderly_parameters(n = 5, label = "café")
orderly_description(display = "Données über 北京 ✓",
                    long = "Ünïcödé: naïve façade, 日本語, emoji 🎉")
orderly_artefact(description = "Zahlen",
                 files = c("numbers.csv", "empty.txt", "blob.bin", "données.txt"))
set.seed(pars$n)
write.csv(data.frame(i = seq_len(pars$n), x = runif(pars$n), label = pars$label),
          "numbers.csv", row.names = FALSE, fileEncoding = "UTF-8")
file.create("empty.txt")
writeLines("Grüße aus Zürich", "données.txt", useBytes = TRUE)
con <- file("blob.bin", "wb")
writeBin(as.raw(sample(0:255, 3 * 1024 * 1024 + 17, replace = TRUE)), con)
close(con)
