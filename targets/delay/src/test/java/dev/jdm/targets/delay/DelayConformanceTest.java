package dev.jdm.targets.delay;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

/**
 * Every form of the grammar, each line's lanes on one device: a FLUSH goes to the flush lane's
 * device only, as in the kernel, and the kit checks that it reaches every device of the table.
 */
class DelayConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 delay " + d.get(0) + " 0 1\n"
        + "8192 4096 delay " + d.get(1) + " 100 0 " + d.get(1) + " 100 2\n"
        + "12288 8192 delay " + d.get(2) + " 8000 1 " + d.get(2) + " 8000 0 " + d.get(2)
        + " 8000 3";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    String dev = " " + d.get(0) + " 0 ";
    return List.of(
        "0 8192 delay " + d.get(0) + " 0",
        "0 8192 delay" + dev + "1" + dev + "1 extra",
        "0 8192 delay " + d.get(0) + " x 1",
        "0 8192 delay" + dev + "-1",
        "0 8192 delay" + dev + "4294967296",
        "0 8192 delay /no/such/file 0 1",
        "0 8192 delay" + dev + "1 /no/such/file 0 1",
        "0 8192 delay " + d.get(0) + " 16384 1");
  }
}
