// must-fail: Type 'number' is not assignable to type 'string'
import type { JobEvent } from "../../generated/index";
import type { CustomEvents } from "../../user/index";

export function accountOf(e: JobEvent<CustomEvents>): string {
  if (e.type === "execution:meta_fetched") {
    const wrong: string = e.count;
    return wrong;
  }
  return "";
}
