"""The page stack in the copilot: the model reads where the user is before every step, and
every move in the app emits `pages.changed`."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from copilot_widget import InvalidOptionsError, PageStack
from copilot_widget._pages import HEADING
from copilot_widget.testing import call, text, tool_calls

from waiting import wait_until


@dataclasses.dataclass
class Orders:
    """The list of orders, filtered."""

    status: str = "all"


@dataclasses.dataclass
class Order:
    """One order's detail page."""

    order_id: int
    note: str = ""


def system_text(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


def test_the_model_reads_the_pages_before_every_step(scripted: Any) -> None:
    """Navigating the app changes what the model receives, from one step to the next."""
    copilot, server = scripted(
        [tool_calls(call("open_order", {"order_id": 7})), text("Order 7 is open.")]
    )
    copilot.pages.declare(Orders, name="orders")
    copilot.pages.declare(Order, name="order")
    copilot.pages.push("orders", {"status": "unpaid"})

    @copilot.action
    def open_order(order_id: int) -> str:
        """Open an order's detail page."""
        copilot.pages.push("order", {"order_id": order_id})
        return "opened"

    copilot.send("Open the latest unpaid order")
    first, second = (system_text(r) for r in server.requests)
    assert HEADING in first and '"status": "unpaid"' in first and '"order_id"' not in first
    # The action moved the user: the next step sees the order on top of the list.
    assert '"type": "order"' in second and '"order_id": 7' in second
    assert second.index('"type": "orders"') < second.index('"type": "order",')
    assert '"required": ["order_id"]' in second  # what the page captures, as a JSON schema


def test_without_pages_the_prompt_has_no_pages_block(scripted: Any) -> None:
    copilot, server = scripted([text("Hi.")])
    copilot.pages.declare(Order, name="order")  # declared, but no page open
    copilot.send("hi")
    assert HEADING not in system_text(server.requests[0])


def test_every_move_emits_pages_changed_also_from_other_threads(scripted: Any) -> None:
    copilot, _ = scripted([])
    seen: list[dict[str, Any]] = []
    copilot.on("pages.changed", lambda event: seen.append(event["data"]))
    copilot.pages.declare(Orders, name="orders")
    copilot.pages.declare(Order, name="order")
    copilot.pages.push("orders")
    mover = threading.Thread(target=copilot.pages.push, args=("order", {"order_id": 3}))
    mover.start()
    mover.join()
    copilot.pages.pop()
    wait_until(lambda: len(seen) == 3, message="three pages.changed events")
    assert [[p["type"] for p in e["new_pages"]] for e in seen] == [
        ["orders"],
        ["orders", "order"],
        ["orders"],
    ]
    assert seen[1]["old_pages"] == seen[0]["new_pages"]
    assert seen[1]["new_pages"][1]["value"] == {"order_id": 3}


def test_an_app_that_keeps_its_own_state_gives_a_getter(scripted: Any) -> None:
    copilot, server = scripted([text("one"), text("two")])
    where = {"order": 5}
    seen: list[dict[str, Any]] = []
    copilot.on("pages.changed", lambda event: seen.append(event["data"]))
    copilot.pages = PageStack.from_getter(
        lambda: [("Orders", {}), ("Order", {"order_id": where["order"]})], types=[Orders, Order]
    )
    wait_until(lambda: len(seen) == 1, message="the event for the new stack")
    assert [p["type"] for p in seen[0]["new_pages"]] == ["Orders", "Order"]
    copilot.send("first")
    where["order"] = 9  # read fresh before every step
    copilot.send("second")
    assert '"order_id": 5' in system_text(server.requests[0])
    assert '"order_id": 9' in system_text(server.requests[1])
    with pytest.raises(InvalidOptionsError, match="PageStack"):
        copilot.pages = [("orders", {})]  # type: ignore[assignment]


def test_a_large_page_is_cut_to_the_bound_and_says_so(scripted: Any) -> None:
    copilot, server = scripted([text("ok")])
    copilot.pages.declare(Orders, name="orders")
    copilot.pages.declare(Order, name="order")
    copilot.pages.push("orders")
    copilot.pages.push("order", {"order_id": 1, "note": "x" * 50_000})
    copilot.send("what is on screen?")
    prompt = system_text(server.requests[0])
    block = prompt[prompt.index(HEADING) :]
    assert len(block) < 10_000 and "cut short" in block  # the top page stays, cut
    assert 'order_id\\": 1' in block and "xxxx" in block


# -- actions that know their page ------------------------------------------------------------
class Shop:
    """A two-page app: the list of orders, and an order's page."""

    def __init__(self, copilot: Any) -> None:
        self.status = {7: "unpaid", 8: "unpaid"}
        self.calls: list[str] = []
        copilot.pages.declare(Orders, name="orders")
        copilot.pages.declare(Order, name="order")
        copilot.pages.push("orders")

        def open_order(order_id: int) -> str:
            """Open an order's page.

            Args:
                order_id: The order to open.
            """
            self.calls.append(f"open {order_id}")
            copilot.pages.push("order", {"order_id": order_id})
            return "opened"

        def set_status(status: str) -> str:
            """Set the status of the order on screen.

            Args:
                status: The new status.
            """
            order_id = copilot.pages.top.value["order_id"]
            self.calls.append(f"set {order_id} {status}")
            self.status[order_id] = status
            return f"order {order_id} is {status}"

        self.open_order, self.set_status = open_order, set_status


def tools_of(request: dict[str, Any]) -> dict[str, Any]:
    return {t["function"]["name"]: t["function"] for t in request.get("tools", [])}


def test_off_its_page_an_action_is_offered_with_the_way_there_and_runs_both(
    scripted: Any,
) -> None:
    copilot, server = scripted(
        [
            tool_calls(call("set_status", {"order_id": 7, "status": "shipped"})),
            tool_calls(call("set_status", {"status": "paid"})),
            text("Done."),
        ]
    )
    shop = Shop(copilot)
    copilot.navigation("order", shop.open_order)
    copilot.action(shop.set_status, page="order")
    copilot.send("Ship order 7, then mark it paid")
    first, second = (tools_of(r)["set_status"] for r in server.requests[:2])
    # From the list: the way to the order's page and the action, in one call.
    assert sorted(first["parameters"]["properties"]) == ["order_id", "status"]
    assert "takes the user there" in first["description"]
    # On the order's page: the action as it is.
    assert sorted(second["parameters"]["properties"]) == ["status"]
    assert shop.calls == ["open 7", "set 7 shipped", "set 7 paid"]
    assert shop.status[7] == "paid"
    assert [c["status"] for m in copilot.messages for c in m["tool_calls"]] == ["completed"] * 2


def test_one_approval_covers_the_way_there_and_the_action(scripted: Any) -> None:
    copilot, _ = scripted(
        [tool_calls(call("set_status", {"order_id": 8, "status": "cancelled"})), text("Ok.")]
    )
    shop = Shop(copilot)
    copilot.navigation("order", shop.open_order)
    copilot.action(shop.set_status, page="order", confirm=True)
    run = copilot.send("Cancel order 8")
    assert run.status == "requires_action"
    (pending,) = copilot.pending_approvals
    assert pending["action"] == "set_status"
    assert pending["arguments"] == {"order_id": 8, "status": "cancelled"}
    assert shop.calls == []  # nothing moved before the approval, not even the page
    copilot.approve(pending["tool_call_id"])
    assert run.status == "completed"
    assert shop.calls == ["open 8", "set 8 cancelled"]
    # The card described the plan that ran, not the action alone.
    spec = copilot.messages[1]["tool_calls"][0]["spec"]
    assert sorted(spec["parameters"]["properties"]) == ["order_id", "status"]
    assert "takes the user there" in spec["description"]


def test_an_action_whose_page_cannot_be_reached_is_not_offered(scripted: Any) -> None:
    copilot, server = scripted(
        [tool_calls(call("set_status", {"status": "paid"})), text("I cannot do that here.")]
    )
    shop = Shop(copilot)
    copilot.action(shop.set_status, page="order")  # no navigation to the order's page

    @copilot.action
    def count_orders() -> int:
        """How many orders there are."""
        return len(shop.status)

    copilot.send("Mark it paid")
    assert list(tools_of(server.requests[0])) == ["count_orders"]
    result = server.requests[1]["messages"][-1]["content"]
    assert "Unknown action 'set_status'" in result
    assert shop.calls == []
    copilot.pages.push("order", {"order_id": 7})  # now the page is open: offered
    assert "set_status" in copilot._offered_actions()


def test_a_navigation_and_an_action_on_its_page_may_not_share_a_parameter(
    scripted: Any,
) -> None:
    copilot, _ = scripted([])
    shop = Shop(copilot)
    copilot.navigation("order", shop.open_order)

    def reopen(order_id: int) -> None:
        """Open the order again."""

    with pytest.raises(InvalidOptionsError, match="order_id"):
        copilot.action(reopen, page="order")
    other, _ = scripted([])
    Shop(other)
    other.action(reopen, page="order")
    with pytest.raises(InvalidOptionsError, match="order_id"):
        other.navigation("order", shop.open_order)
    with pytest.raises(InvalidOptionsError, match="declare it first"):
        other.navigation("invoice", shop.open_order)
    with pytest.raises(InvalidOptionsError, match="page must be"):
        other.action(reopen, name="bad", page="")


def test_what_the_copilot_sees_is_the_context_of_its_next_step(scripted: Any) -> None:
    copilot, server = scripted([text("ok")], instructions="Be brief.")
    copilot.readable("Cart", lambda: {"items": 2})
    copilot.pages.declare(Order, name="order")
    copilot.pages.push("order", {"order_id": 4})
    seen = copilot.context()
    assert "Be brief." in seen and '"items": 2' in seen and '"order_id": 4' in seen
    # The chat's Context button asks the kernel for the same text.
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = replies.append  # type: ignore[method-assign]
    copilot._on_front_end_message(None, {"kind": "get_context", "request_id": "r1"}, [])
    assert replies[-1]["ok"] and replies[-1]["result"] == {"context": seen}
    copilot.send("hi")
    assert system_text(server.requests[0]) == seen


def test_an_action_the_app_runs_off_its_page_takes_the_way_there(scripted: Any) -> None:
    copilot, _ = scripted([])
    shop = Shop(copilot)
    copilot.action(shop.set_status, page="order")
    with pytest.raises(InvalidOptionsError, match="no navigation leads there"):
        copilot.run_action("set_status", status="paid")
    copilot.navigation("order", shop.open_order)
    run = copilot.run_action("set_status", order_id=8, status="paid")
    assert run.status == "completed"
    assert shop.calls == ["open 8", "set 8 paid"]
    assert copilot.pages.top is not None and copilot.pages.top.value == {"order_id": 8}


# -- the kernel decides when a call runs, not when it was offered ----------------------------
def test_an_action_removed_while_an_approval_waits_does_not_run(scripted: Any) -> None:
    copilot, _ = scripted([tool_calls(call("ask_first", {}), call("drop_all", {})), text("Ok.")])
    ran: list[str] = []

    @copilot.action(confirm=True)
    def ask_first() -> str:
        """Asks before it runs."""
        ran.append("ask_first")
        return "asked"

    @copilot.action
    def drop_all() -> str:
        """Drops everything."""
        ran.append("drop_all")
        return "dropped"

    run = copilot.send("go")
    assert run.status == "requires_action"
    copilot.remove_action("drop_all")  # while the user thinks
    copilot.approve(copilot.pending_approvals[0]["tool_call_id"])
    assert ran == ["ask_first"]
    dropped = copilot.messages[1]["tool_calls"][1]
    assert dropped["status"] == "failed" and "removed or disabled" in dropped["error"]


def test_a_page_closed_while_its_approval_waits_stops_the_action(scripted: Any) -> None:
    copilot, _ = scripted([tool_calls(call("set_status", {"status": "paid"})), text("Ok.")])
    shop = Shop(copilot)
    copilot.action(shop.set_status, page="order", confirm=True)
    copilot.pages.push("order", {"order_id": 7})
    run = copilot.send("Mark it paid")
    assert run.status == "requires_action"
    copilot.pages.pop()  # the user went back to the list
    copilot.approve(copilot.pending_approvals[0]["tool_call_id"])
    assert shop.calls == [] and shop.status[7] == "unpaid"
    error = copilot.messages[1]["tool_calls"][0]["error"]
    assert "'order' page it acts on is no longer open" in error


def test_a_paired_frontend_action_runs_as_registered_off_its_page(scripted: Any) -> None:
    copilot, _ = scripted(
        [tool_calls(call("set_status", {"order_id": 7, "status": "shipped"})), text("Ok.")]
    )
    shop = Shop(copilot)
    shown: list[str] = []
    copilot.navigation("order", shop.open_order)
    copilot.action(shop.set_status, page="order")

    @copilot.action(paired_action="set_status", available="frontend", page="order")
    def show_status(result: str) -> None:
        shown.append(result)

    copilot.send("Ship order 7")
    assert shop.calls == ["open 7", "set 7 shipped"]
    assert shown == ["order 7 is shipped"]


def test_show_buttons_refuses_what_is_not_an_opencui_message(scripted: Any) -> None:
    copilot, _ = scripted([], action_buttons=True)
    for bad in (["not", "a", "message"], {"type": "carousel"}):
        with pytest.raises(InvalidOptionsError, match="needs an OpenCUI message"):
            copilot.show_buttons(bad)  # type: ignore[arg-type]
    assert copilot.messages == []
