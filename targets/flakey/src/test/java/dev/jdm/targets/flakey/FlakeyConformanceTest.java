package dev.jdm.targets.flakey;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

/**
 * Flakey that is never down is linear: the kit's data, flush and lifecycle checks all hold. The
 * kit wants the table printed back as written, and flakey prints its features always, so each line
 * names them.
 */
class FlakeyConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 flakey " + d.get(0) + " 0 1 0 2 error_reads error_writes\n"
        + "8192 4096 flakey " + d.get(1) + " 100 3600 0 1 drop_writes\n"
        + "12288 8192 flakey " + d.get(2) + " 8000 60 0 5 corrupt_bio_byte 32 r 1 0";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    String dev = "0 8192 flakey " + d.get(0) + " 0 ";
    return List.of(
        "0 8192 flakey " + d.get(0) + " 0 1",
        dev + "0 0",
        dev + "x 1",
        dev + "1 1 2 drop_writes",
        dev + "1 1 1 bogus",
        dev + "1 1 2 drop_writes error_writes",
        "0 8192 flakey /no/such/file 0 1 1",
        "0 8192 flakey " + d.get(0) + " 10000 1 1");
  }
}
