orderly_dependency("data", "latest(parameter:label == 'café')",
                   c("input.csv" = "numbers.csv", "nothing.txt" = "empty.txt"))
orderly_artefact(description = "Fit", files = "fit.txt")
d <- read.csv("input.csv")
writeLines(sprintf("mean=%.6f rows=%d", mean(d$x), nrow(d)), "fit.txt")
