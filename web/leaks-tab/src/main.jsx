import React from "react";
import ReactDOM from "react-dom/client";
import LocustUi from "locust-ui";

import LeaksTab from "./LeaksTab";

// Locust's own UI, with one more tab: the leak harness's live view.
const extendedTabs = [{ title: "Leaks", key: "leaks", component: LeaksTab }];

ReactDOM.createRoot(document.getElementById("root")).render(<LocustUi extendedTabs={extendedTabs} />);
