import elector from './index.js'

export const {Elector, EVENTS, metrics} = elector
export default elector
