import elector from './index.js'

export const {Elector, EVENTS, metrics, registerMetrics} = elector
export default elector
