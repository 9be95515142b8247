orderly_dependency("model", "latest", c("fit.txt" = "fit.txt"))
orderly_dependency("data", "latest", c("blob.bin" = "blob.bin"))
orderly_artefact(description = "Report", files = "report.txt")
writeLines(c("# Résumé", readLines("fit.txt"),
             sprintf("blob bytes=%d", file.size("blob.bin"))), "report.txt")
