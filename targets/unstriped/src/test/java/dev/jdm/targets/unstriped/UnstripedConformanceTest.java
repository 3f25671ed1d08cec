package dev.jdm.targets.unstriped;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class UnstripedConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 4096 unstriped 4 256 1 " + d.get(0) + " 0\n"
        + "4096 8192 unstriped 2 512 0 " + d.get(1) + " 100\n"
        + "12288 4096 unstriped 1 8 0 " + d.get(2) + " 8000";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    String dev = " " + d.get(0) + " 0";
    return List.of(
        "0 4096 unstriped 4 256 1 " + d.get(0),
        "0 4096 unstriped 4 256 1" + dev + " extra",
        "0 4096 unstriped 0 256 1" + dev,
        "0 4096 unstriped 4 0 1" + dev,
        "0 4096 unstriped 4 100 1" + dev,
        "0 4096 unstriped 4 256 x" + dev,
        "0 4096 unstriped 4 256 5" + dev,
        "0 4096 unstriped 4 256 1 " + d.get(0) + " -1",
        "0 4097 unstriped 4 256 1" + dev,
        "0 4096 unstriped 4 8192 1" + dev,
        "0 4096 unstriped 4 256 1 /no/such/file 0",
        "0 16384 unstriped 4 256 3" + dev);
  }
}
