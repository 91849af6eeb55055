import ChatExample
import Ripple

await RippleMain.run(ChatApp.app)
