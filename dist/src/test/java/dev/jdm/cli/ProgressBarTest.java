package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
  @Test
  void redrawsOnlyWhenThePercentMovesAndClearsItsLine() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ProgressBar bar = ProgressBar.to(new PrintStream(out, true, StandardCharsets.UTF_8),
        "reading t.csv", 200)) {
      bar.at(0);
      bar.at(1);
      bar.at(100);
      bar.at(101);
      bar.at(200);
    }
    String empty = " ".repeat(30);
    String half = "#".repeat(15) + " ".repeat(15);
    String full = "#".repeat(30);
    assertEquals("\rreading t.csv [" + empty + "] 0%"
        + "\rreading t.csv [" + half + "] 50%"
        + "\rreading t.csv [" + full + "] 100%"
        + "\r" + " ".repeat("reading t.csv".length() + 38) + "\r",
        out.toString(StandardCharsets.UTF_8));
  }
}
