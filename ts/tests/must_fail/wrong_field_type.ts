// must-fail: Type 'string' is not assignable to type 'number'
import { ClientMessage } from "../../generated/index";

export const m: ClientMessage = { type: "subscribe", room: "job:1", since: "17" };
